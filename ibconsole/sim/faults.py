"""Faults on demand for a running paper gateway: dropped and reset connections, a gateway that
stops answering or answers late, IB connectivity and data farm outages, pacing violations,
delayed-only market data and order rejects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from ibconsole.sim.connection import Connection

__all__ = ["FARMS", "Faults"]

log = logging.getLogger(__name__)

# farm -> (code when broken, code when OK, message with a slot for "broken"/"OK")
FARMS: dict[str, tuple[int, int, str]] = {
    "market": (2103, 2104, "Market data farm connection is {}:usfarm"),
    "hmds": (2105, 2106, "HMDS data farm connection is {}:ushmds"),
    "secdef": (2157, 2158, "Sec-def data farm connection is {}:secdefnj"),
}
CONNECTIVITY_LOST = (1100, "Connectivity between IB and Trader Workstation has been lost.")
RESTORED_DATA_LOST = (
    1101,
    "Connectivity between IB and Trader Workstation has been restored - data lost.*",
)
RESTORED_DATA_KEPT = (
    1102,
    "Connectivity between IB and Trader Workstation has been restored - data maintained. "
    "All data farms are connected: usfarm; ushmds; secdefnj.",
)


class _Stream(Protocol):
    """A subscription service whose stream stops while IB is unreachable."""

    paused: bool

    def drop_all(self) -> None: ...


class _Orders(Protocol):
    def reject_next(self, reason: str, code: int = ...) -> None: ...


class _DepthBursts(Protocol):
    def burst(self, rate: float, seconds: float, con_id: int | None = None) -> None: ...


class _MarketData(_Stream, Protocol):
    delayed_only: bool


class _History(_Stream, Protocol):
    pacing_code: int | None


class Faults:
    """Inject faults into a running gateway (``gw.faults``); every method takes effect at once.

    ``command`` accepts the same faults as one-line text commands (used by ``ibconsole-sim``
    on its standard input).
    """

    def __init__(
        self,
        connections: Callable[[], Sequence[Connection]],
        orders: _Orders,
        market_data: _MarketData,
        history: _History,
        streams: Sequence[_Stream],
        *,
        depth: _DepthBursts,
    ) -> None:
        self._connections = connections
        self._orders = orders
        self._market_data = market_data
        self._history = history
        self._streams = (market_data, history, *streams)
        self._depth = depth
        self._timers: set[asyncio.TimerHandle] = set()
        self.answering = True
        self.reply_delay = 0.0
        self.connectivity = True

    # ---- connections ------------------------------------------------------------------------

    def drop(self, client_id: int | None = None) -> int:
        """Close one client's (or every) connection with a FIN; returns how many were closed."""
        closing = self._select(client_id)
        log.info("fault: closing %d connection(s) (FIN)", len(closing))
        for connection in closing:
            connection.close()
        return len(closing)

    def reset(self, client_id: int | None = None) -> int:
        """Reset one client's (or every) connection (RST); returns how many were reset."""
        closing = self._select(client_id)
        log.info("fault: resetting %d connection(s) (RST)", len(closing))
        for connection in closing:
            connection.reset()
        return len(closing)

    def stop_answering(self) -> None:
        """Swallow every inbound message (handshakes included) until ``resume_answering``."""
        log.info("fault: not answering")
        self.answering = False

    def resume_answering(self) -> None:
        self.answering = True

    def delay_replies(self, seconds: float) -> None:
        """Hold every inbound message ``seconds`` before handling it (0 answers at once again)."""
        if not seconds >= 0:
            raise ValueError(f"reply delay must be zero or more seconds, got {seconds}")
        log.info("fault: replies delayed by %g s", seconds)
        self.reply_delay = float(seconds)

    # ---- IB side ----------------------------------------------------------------------------

    def lose_connectivity(
        self, restore_after: float | None = None, *, data_maintained: bool = True
    ) -> None:
        """Send 1100 and stop streaming; with ``restore_after``, restore that many seconds later."""
        log.info("fault: IB connectivity lost")
        self.connectivity = False
        for stream in self._streams:
            stream.paused = True
        self._broadcast(*CONNECTIVITY_LOST)
        if restore_after is not None:
            self._later(restore_after, lambda: self.restore_connectivity(data_maintained))

    def restore_connectivity(self, data_maintained: bool = True) -> None:
        """Send 1102 (subscriptions kept) or 1101 (every subscription dropped: clients must
        resubscribe), then the farm status messages again."""
        log.info("fault: IB connectivity restored, data %s", "kept" if data_maintained else "lost")
        self.connectivity = True
        for stream in self._streams:
            if not data_maintained:
                stream.drop_all()
            stream.paused = False
        self._broadcast(*(RESTORED_DATA_KEPT if data_maintained else RESTORED_DATA_LOST))
        for farm in FARMS:
            self.farm_ok(farm)

    def farm_broken(self, farm: str = "market") -> None:
        broken, _, text = _farm(farm)
        self._broadcast(broken, text.format("broken"))

    def farm_ok(self, farm: str = "market") -> None:
        _, ok, text = _farm(farm)
        self._broadcast(ok, text.format("OK"))

    def farm_flap(self, farm: str = "market", restore_after: float = 0.0) -> None:
        """Broken now (2103/2105/2157), OK again ``restore_after`` seconds later (2104/2106/2158)."""
        log.info("fault: %s farm flaps for %g s", farm, restore_after)
        self.farm_broken(farm)
        self._later(restore_after, lambda: self.farm_ok(farm))

    def pace_next_historical(self, code: int = 162) -> None:
        """Answer the next historical data request with a pacing error (162, or 100)."""
        if code not in (100, 162):
            raise ValueError(f"pacing error code must be 100 or 162, got {code}")
        self._history.pacing_code = code

    def delayed_data_only(self, enabled: bool = True) -> None:
        """Serve new market data requests as delayed (10167, type 3) whatever the client asks."""
        self._market_data.delayed_only = enabled

    def depth_burst(self, rate: float, seconds: float, con_id: int | None = None) -> None:
        """Market depth changes at ``rate`` a second behind the touch for ``seconds`` (on one
        instrument's book, or on every book), as in a fast market."""
        self._depth.burst(rate, seconds, con_id)

    def reject_next_order(self, reason: str = "Simulated reject", code: int = 201) -> None:
        """The next order placed (or changed) gets error ``code``, IB's order reject 201 unless
        told otherwise, with ``reason``."""
        self._orders.reject_next(reason, code)

    # ---- plumbing ---------------------------------------------------------------------------

    def cancel_pending(self) -> None:
        """Forget every scheduled restore (the gateway is stopping)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def command(self, text: str) -> str:
        """Run one text command; returns what it did. Commands: ``drop [clientId]``, ``reset
        [clientId]``, ``stall``, ``resume``, ``delay SECONDS``, ``lose [SECONDS] [lost]``,
        ``restore [lost]``, ``flap [market|hmds|secdef] [SECONDS]``, ``pace [100|162]``,
        ``delayed on|off``, ``reject [REASON]``, ``burst RATE SECONDS [conId]``."""
        words = text.split()
        if not words:
            raise ValueError("empty fault command")
        verb, args = words[0].lower(), words[1:]
        if verb in ("drop", "reset"):
            client_id = int(args[0]) if args else None
            count = self.drop(client_id) if verb == "drop" else self.reset(client_id)
            return f"{verb}: {count} connection(s)"
        if verb == "stall":
            self.stop_answering()
            return "not answering"
        if verb == "resume":
            self.resume_answering()
            return "answering"
        if verb == "delay":
            self.delay_replies(float(args[0]) if args else 0.0)
            return f"reply delay {self.reply_delay:g} s"
        if verb == "lose":
            seconds = float(args[0]) if args and args[0] != "lost" else None
            self.lose_connectivity(seconds, data_maintained="lost" not in args)
            return "connectivity lost (1100)"
        if verb == "restore":
            self.restore_connectivity(data_maintained="lost" not in args)
            return "connectivity restored"
        if verb == "flap":
            farm = args[0] if args else "market"
            self.farm_flap(farm, float(args[1]) if len(args) > 1 else 0.0)
            return f"{farm} farm flapped"
        if verb == "pace":
            self.pace_next_historical(int(args[0]) if args else 162)
            return "next historical request will be paced"
        if verb == "delayed":
            self.delayed_data_only(not args or args[0].lower() != "off")
            return f"delayed only: {self._market_data.delayed_only}"
        if verb == "burst":
            if len(args) not in (2, 3):
                raise ValueError("usage: burst RATE SECONDS [conId]")
            con_id = int(args[2]) if len(args) == 3 else None
            self.depth_burst(float(args[0]), float(args[1]), con_id)
            return f"depth burst {args[0]}/s for {args[1]} s"
        if verb == "reject":
            self.reject_next_order(" ".join(args) or "Simulated reject")
            return "next order will be rejected"
        raise ValueError(f"unknown fault command {verb!r}")

    def _select(self, client_id: int | None) -> list[Connection]:
        return [
            connection
            for connection in self._connections()
            if client_id is None or connection.client_id == client_id
        ]

    def _broadcast(self, code: int, message: str) -> None:
        for connection in self._connections():
            if connection.started:
                connection.send_error(-1, code, message)

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            action()

        handle = loop.call_later(max(0.0, seconds), fire)
        self._timers.add(handle)


def _farm(name: str) -> tuple[int, int, str]:
    farm = FARMS.get(name)
    if farm is None:
        raise ValueError(f"unknown data farm {name!r}; expected one of {', '.join(FARMS)}")
    return farm
