"""Whatever a handler of an event raises is logged with its traceback, never lost.

ib_async's eventkit (aeventkit) hands a handler's exception to the event's ``error_event``, which
nothing hears, where ib_insync's eventkit logs it: a failing handler, the console's or the
library's own, would fail without a word, and whatever it was doing (placing a roll's exits, say)
would silently not be done. ``heard`` gives an event's ``error_event`` a listener that logs;
the console's own events get one as they are made (``ib_client.Event``), the IB client's own
(its ``events``, its socket client's) as it is made, and objects the library makes later (a bar
series, a trade) where the console first listens to them.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def heard(*events: Any) -> None:
    """Log what a handler of each of ``events`` raises (an event another listener already
    hears, or one without an ``error_event``, is left as it is)."""
    for event in events:
        errors = getattr(event, "error_event", None)
        if errors is not None and not len(errors):
            errors += _failed


def hear_client(ib: Any) -> None:
    """``heard`` for every event of the IB client ``ib`` and of its socket client."""
    heard(*(getattr(ib, name) for name in ib.events))
    heard(*(getattr(ib.client, name) for name in ib.client.events))


def _failed(event: Any, error: BaseException) -> None:
    log.error("a handler of the event %r failed", event.name(), exc_info=error)
