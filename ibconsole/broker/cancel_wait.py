"""Cancelling orders and waiting until IB has ended each one, or until waiting longer is
pointless: the session ended (those trades never report again), or it reloaded its orders on the
same socket (a heartbeat answered again, IB's 1101/1102) and some have still not ended. IB handles
a socket's requests in order, so once that reload is done it has answered every cancel sent
before it: an order it still works (the cancel was lost) or never received does not end by
waiting. The roll's old-month cancels and the cancel of a spread order whose rest is legged both
stop at once then, not after their fill timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ibconsole.broker.handler_errors import heard
from ibconsole.broker.ib_client import Trade
from ibconsole.broker.session import Session
from ibconsole.journal import BrokerStatus


@dataclass(frozen=True, slots=True)
class CancelsUnanswered:
    """Why cancels sent will not end their orders by waiting: the connection dropped, or a reload
    found ``lost`` orders IB still works (their cancel was lost) and ``never`` it never had."""

    dropped: bool
    lost: int = 0
    never: int = 0

    @property
    def counts(self) -> str:
        """What the reload found, e.g. "IB still works 1 (its cancel was lost), and 1 never
        reached IB"."""
        found = [f"IB still works {self.lost} (its cancel was lost)"] if self.lost else []
        found += [f"{self.never} never reached IB"] if self.never else []
        return ", and ".join(found)


async def cancel_and_wait(
    session: Session, trades: Sequence[Trade], send: Callable[[Trade], None]
) -> CancelsUnanswered | None:
    """Cancel ``trades`` (``send`` sends one cancel; a bracket's child whose parent is among them
    goes with its parent) and wait until IB has ended every one: None then, else why waiting
    longer is pointless. The caller bounds the wait (its fill timeout); ``send`` may raise, and
    nothing is left listening then."""
    stopped: asyncio.Future[CancelsUnanswered] = asyncio.get_running_loop().create_future()

    def stop(reason: CancelsUnanswered | None) -> None:
        if reason is not None and not stopped.done():
            stopped.set_result(reason)

    def on_ended(_: str) -> None:
        stop(CancelsUnanswered(dropped=True))

    def on_synced(_: object) -> None:
        stop(_unanswered(trades))

    # Listening before the first cancel goes: nothing the session says after it is missed.
    session.ended += on_ended
    session.synced += on_synced
    waiting = asyncio.ensure_future(_all_done(trades))
    try:
        parents = {t.order.orderId for t in trades}
        for trade in trades:
            if trade.order.parentId not in parents:
                send(trade)
        await asyncio.wait((waiting, stopped), return_when=asyncio.FIRST_COMPLETED)
        return None if waiting.done() else stopped.result()
    finally:
        session.ended -= on_ended
        session.synced -= on_synced
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting


def _unanswered(trades: Sequence[Trade]) -> CancelsUnanswered | None:
    """After the session reloaded: what of ``trades`` has not ended and will not by waiting, or
    None when every one has ended or IB holds its cancel (PendingCancel)."""
    pending = [t for t in trades if not t.isDone()]
    never = sum(1 for t in pending if not (t.order.permId or t.orderStatus.permId))
    lost = sum(
        1
        for t in pending
        if (t.order.permId or t.orderStatus.permId)
        and t.orderStatus.status != BrokerStatus.PENDING_CANCEL
    )
    if not (lost or never):
        return None
    return CancelsUnanswered(dropped=False, lost=lost, never=never)


async def _all_done(trades: Sequence[Trade]) -> None:
    for trade in trades:
        await _until_done(trade)


async def _until_done(trade: Trade) -> None:
    if trade.isDone():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(changed: Trade) -> None:
        if changed.isDone() and not done.done():
            done.set_result(None)

    heard(trade.statusEvent)
    trade.statusEvent += check
    try:
        await done
    finally:
        trade.statusEvent -= check
