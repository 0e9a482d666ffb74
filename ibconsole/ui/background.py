"""Background work from the GUI: one small runner with a success path and a failure path.

Every async slot has one shape: gather input, ``runner.start(service_call(...), done=…,
failed=…)``, return. A failure without its own handler reaches ``sys.excepthook``, which the app
installs to log it and show a dialog, so no error from an async slot passes silently.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundRunner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()  # strong references until done

    def start(
        self,
        work: Coroutine[Any, Any, T],
        *,
        name: str,
        done: Callable[[T], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)

        def finished(task: asyncio.Task[T]) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if error is None:
                if done is not None:
                    done(task.result())
            elif failed is not None:
                failed(error)
            else:
                log.error("%s failed", name, exc_info=error)
                sys.excepthook(type(error), error, error.__traceback__)

        task.add_done_callback(finished)
        return task

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
