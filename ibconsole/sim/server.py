"""The paper gateway: a TWS API server on loopback that routes each client's requests to the
simulator's services (contracts, market data, history, orders and accounts)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType

from ibconsole.sim.clock import SimClock
from ibconsole.sim.connection import Connection
from ibconsole.sim.contract_details import ContractDetailsService
from ibconsole.sim.desk import Desk
from ibconsole.sim.faults import FARMS, Faults
from ibconsole.sim.history import HistoryService
from ibconsole.sim.instruments import Catalogue
from ibconsole.sim.market import Market
from ibconsole.sim.market_data import MarketDataService
from ibconsole.sim.option_chains import OptionChains
from ibconsole.sim.option_margin import OptionMargins
from ibconsole.sim.option_quotes import OptionBook
from ibconsole.sim.option_ticks import OptionTicks
from ibconsole.sim.options import OptionsService
from ibconsole.sim.orders import ReceivedOrder
from ibconsole.sim.realtime_bars import RealTimeBarService
from ibconsole.sim.tape import Tape

__all__ = ["MAX_SERVER_VERSION", "PaperGateway"]

log = logging.getLogger(__name__)

Handler = Callable[[Connection, list[str]], None]

MAX_SERVER_VERSION = 178
_ACCOUNT = re.compile(r"^[A-Za-z0-9]+$")
_CLIENT_ID_IN_USE = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
_CLOSE_TIMEOUT = 2.0


class PaperGateway:
    """A simulated TWS / IB Gateway in paper mode.

    ``await gw.start(host, port)`` listens (port 0 picks a free one, see ``gw.port``);
    ``await gw.stop()`` closes every connection and timer. Also an async context manager.
    ``gw.orders`` lists what the exchange received, ``gw.faults`` injects faults, ``gw.clock``,
    ``gw.market`` and ``gw.catalogue`` expose the simulated world.
    """

    def __init__(
        self,
        seed: int = 0,
        as_of: datetime | None = None,
        accounts: Sequence[str] = ("DU1234567",),
        tick_rate: float = 4.0,
        server_version: int = 176,
    ) -> None:
        if isinstance(accounts, str):
            raise TypeError("accounts must be a sequence of account codes, not one string")
        accounts = tuple(accounts)
        if not accounts:
            raise ValueError("a gateway needs at least one account")
        for account in accounts:
            if not _ACCOUNT.match(account):
                raise ValueError(f"account code must be letters and digits only, got {account!r}")
        if len(set(accounts)) != len(accounts):
            raise ValueError(f"account codes must be unique, got {', '.join(accounts)}")
        if not 100 <= server_version <= MAX_SERVER_VERSION:
            raise ValueError(
                f"server_version must be between 100 and {MAX_SERVER_VERSION}, got {server_version}"
            )
        self.seed = seed
        self.accounts = accounts
        self.server_version = server_version
        self.clock = SimClock(as_of)
        self.catalogue = Catalogue(self.clock)
        self.market = Market(self.catalogue, self.clock, seed=seed, tick_rate=tick_rate)
        self.option_chains = OptionChains(
            self.catalogue, self.clock, lambda future: self.market.quote(future.con_id).close
        )
        self.catalogue.add_source(self.option_chains)
        self.option_book = OptionBook(seed)
        self.market.derive(self.option_book)
        self.tape = Tape(self.market, self.clock)
        self.desk = Desk(
            clock=self.clock,
            catalogue=self.catalogue,
            market=self.market,
            accounts=accounts,
            seed=seed,
            margin_rule=OptionMargins(self.market, self.option_book, self.clock),
        )
        self.contracts = ContractDetailsService(self.catalogue, self.clock)
        self.market_data = MarketDataService(self.catalogue, self.market, self.clock)
        self.market_data.add_extension(OptionTicks(self.market, self.option_book, self.clock))
        self.options = OptionsService(self.catalogue, self.option_chains, self.clock)
        self.history = HistoryService(self.catalogue, self.market, self.tape, self.clock, seed=seed)
        self.realtime_bars = RealTimeBarService(self.catalogue, self.market, self.tape, self.clock)
        self.faults = Faults(
            self._live_connections,
            self.desk,
            self.market_data,
            self.history,
            (self.realtime_bars,),
        )
        self._handlers = self._build_handlers()
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._clients: dict[int, Connection] = {}
        self._attached: set[Connection] = set()
        self.host = ""
        self._port = 0

    def _build_handlers(self) -> dict[int, Handler]:
        own: dict[int, Handler] = {
            8: self._on_req_ids,
            17: self._on_managed_accounts,
            49: self._on_current_time,
        }
        handlers: dict[int, Handler] = {}
        sources: Sequence[Mapping[int, Handler]] = (
            own,
            self.desk.handlers(),
            self.contracts.handlers(),
            self.market_data.handlers(),
            self.history.handlers(),
            self.realtime_bars.handlers(),
            self.options.handlers(),
        )
        for source in sources:
            for msg_id, handler in source.items():
                if msg_id in handlers:
                    raise RuntimeError(f"two services claim inbound message {msg_id}")
                handlers[msg_id] = handler
        return handlers

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return self._port

    @property
    def orders(self) -> list[ReceivedOrder]:
        """Every order the exchange received, in arrival order."""
        return self.desk.received

    @property
    def connections(self) -> list[Connection]:
        """Open connections, handshaken or not."""
        return list(self._connections)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), host, port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self._port = host, int(sockname[1])
        log.info("paper gateway listening on %s:%d", host, self._port)

    async def stop(self) -> None:
        """Stop listening, close every connection (FIN) and stop every timer."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.close()
        if connections:
            waits = [asyncio.ensure_future(connection.closed.wait()) for connection in connections]
            _, pending = await asyncio.wait(waits, timeout=_CLOSE_TIMEOUT)
            if pending:
                # a client that does not read keeps its socket open: cut it off
                for connection in connections:
                    connection.abort()
                await asyncio.wait(pending)
        await server.wait_closed()
        self.faults.cancel_pending()
        self.realtime_bars.close()
        self.desk.close()
        self.tape.close()
        self.market.close()
        log.info("paper gateway on port %d stopped", self._port)

    def drop_connections(self) -> int:
        """Close every client connection (FIN), as when TWS shuts down or restarts."""
        return self.faults.drop()

    async def __aenter__(self) -> PaperGateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _live_connections(self) -> list[Connection]:
        return list(self._connections)

    # ---- ConnectionOwner --------------------------------------------------------------------

    def connection_made(self, connection: Connection) -> None:
        self._connections.add(connection)

    def handshake(self, connection: Connection, client_max: int) -> tuple[int, str] | None:
        version = min(client_max, self.server_version)
        now = self.clock.now().astimezone(UTC)
        return version, f"{now:%Y%m%d %H:%M:%S} UTC"

    def start_api(self, connection: Connection, client_id: int) -> None:
        holder = self._clients.get(client_id)
        if holder is not None:
            log.info("clientId %d is already connected; refusing %s", client_id, connection.peer)
            connection.send_error(-1, 326, _CLIENT_ID_IN_USE)
            connection.close()
            return
        self._clients[client_id] = connection
        connection.send(15, 1, ",".join(self.accounts))
        connection.send(9, 1, self.desk.next_order_id())
        if self.faults.connectivity:
            for _, ok, text in FARMS.values():
                connection.send_error(-1, ok, text.format("OK"))
        self.desk.attach(connection)
        self._attached.add(connection)
        log.info("clientId %d connected from %s", client_id, connection.peer)

    def dispatch(self, connection: Connection, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (IndexError, ValueError):  # an empty frame, or an id that is not a number
            log.warning("%r sent a message with a bad id %r; ignored", connection, fields[:3])
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.info("%r: message %d is not supported; ignored", connection, msg_id)
            return
        try:
            handler(connection, fields)
        except (ValueError, IndexError, KeyError, ArithmeticError) as exc:
            log.warning("%r sent a malformed message %d (%s): %r", connection, msg_id, exc, fields)
        except Exception:
            log.exception("handling message %d from %r failed: %r", msg_id, connection, fields)

    def inbound_delay(self) -> float:
        return self.faults.reply_delay

    def swallowing(self) -> bool:
        return not self.faults.answering

    def connection_closed(self, connection: Connection) -> None:
        self._connections.discard(connection)
        if self._clients.get(connection.client_id) is connection:
            del self._clients[connection.client_id]
        if connection in self._attached:
            self._attached.discard(connection)
            self.desk.detach(connection)
        self.market_data.detach(connection)
        self.history.detach(connection)
        self.realtime_bars.detach(connection)

    # ---- requests answered here -------------------------------------------------------------

    def _on_req_ids(self, link: Connection, fields: list[str]) -> None:
        link.send(9, 1, self.desk.next_order_id())

    def _on_managed_accounts(self, link: Connection, fields: list[str]) -> None:
        link.send(15, 1, ",".join(self.accounts))

    def _on_current_time(self, link: Connection, fields: list[str]) -> None:
        link.send(49, 1, int(self.clock.epoch()))
