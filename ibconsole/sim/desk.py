"""The order desk of the paper gateway: takes orders, cancels and account requests from API
clients, runs them through the exchange and the books, and reports back on the wire.

Order events go to the connection that placed the order (by clientId, so a client that
reconnects with the same id hears about its orders again); positions, portfolio, account
values, summaries and P&L go to every connection subscribed to them (see
:mod:`ibconsole.sim.account_streams`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from ibconsole.sim.account_streams import AccountStreams
from ibconsole.sim.accounts import Accounts, AccountSnapshot, FillCharge, MarginRule, PositionView
from ibconsole.sim.clock import SimClock
from ibconsole.sim.combo_market import ComboMarket
from ibconsole.sim.combos import ComboInstrument, Combos, is_bag
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.exchange import (
    Exchange,
    OrderAccepted,
    OrderCancelled,
    OrderChanged,
    OrderError,
    OrderEvent,
    OrderFilled,
    reject,
)
from ibconsole.sim.fill_executions import book_fill
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.link import ClientLink
from ibconsole.sim.market import Market, Quote
from ibconsole.sim.option_expiry import settle
from ibconsole.sim.order_codec import (
    OrderFormatError,
    commission_report_fields,
    completed_order_fields,
    decode_place_order,
    exec_details_fields,
    open_order_fields,
    order_status_fields,
)
from ibconsole.sim.orders import (
    Execution,
    OrderRequest,
    OrderSnapshot,
    ReceivedOrder,
    Status,
)
from ibconsole.sim.request_fields import RequestFormatError, int_field, text_field

__all__ = ["Desk"]

log = logging.getLogger(__name__)

Handler = Callable[[ClientLink, list[str]], None]

_EXEC_FILTER_FORMATS = ("%Y%m%d %H:%M:%S", "%Y%m%d-%H:%M:%S")
# An option's expiry is checked at least this often (seconds), so a clock moved on with
# ``SimClock.advance`` is noticed.
_EXPIRY_CHECK = 1.0
_PERM_ID_FLOOR = 1_000_000_000
# TWS's wording; the quoted letters name an obfuscated class and vary between TWS builds
# ('td' in 2016, qtpylib#50)
_MISSING_EXCHANGE = "Error validating request.-'bN' : cause - Missing order exchange"


class Desk:
    """Orders, executions and accounts of one paper gateway, for all its connections."""

    def __init__(
        self,
        *,
        clock: SimClock,
        catalogue: Catalogue,
        market: Market,
        accounts: Sequence[str],
        margin_rule: MarginRule | None = None,
    ) -> None:
        self._clock = clock
        self._catalogue = catalogue
        self._market = market
        self._books = (
            Accounts(accounts)
            if margin_rule is None
            else Accounts(accounts, margin_rule=margin_rule)
        )
        self._combos = Combos(catalogue, clock)
        self._quotes = ComboMarket(market, self._combos)
        # Seeds are for markets, not identities: permIds and execution ids never repeat across
        # gateway instances (IB's permIds are ~1e9-2e9; execIds look like 0000e0d5.67fe667b.01.01)
        self._exchange = Exchange(
            clock=clock,
            book=self._quotes,
            perm_id_base=_PERM_ID_FLOOR + secrets.randbelow(_PERM_ID_FLOOR),
            exec_prefix=f"0000{secrets.randbits(16):04x}",
        )
        self._streams = AccountStreams(clock=clock, books=self._books, marks=self._mark)
        self._executions: list[Execution] = []
        self._next_order_id = 1
        self._expiries: dict[int, asyncio.TimerHandle] = {}
        self.received: list[ReceivedOrder] = []
        self._quotes.add_listener(self._on_quote)
        self._quotes.add_session_listener(self._on_session)
        self._listening = True

    # --- wiring -----------------------------------------------------------------------------

    def handlers(self) -> Mapping[int, Handler]:
        return {
            3: self._on_place_order,
            4: self._on_cancel_order,
            5: self._on_open_orders,
            7: self._on_executions,
            15: self._on_auto_open_orders,
            16: self._on_all_open_orders,
            58: self._on_global_cancel,
            99: self._on_completed_orders,
            **self._streams.handlers(),
        }

    def attach(self, link: ClientLink) -> None:
        self._streams.attach(link)

    def detach(self, link: ClientLink) -> None:
        """Forget a connection's subscriptions; its orders keep working, as at IB."""
        self._streams.detach(link)

    def close(self) -> None:
        """Stop the P&L timer and stop listening to the market (gateway shutdown)."""
        for handle in self._expiries.values():
            handle.cancel()
        self._expiries.clear()
        if self._listening:
            self._listening = False
            self._quotes.remove_listener(self._on_quote)
            self._quotes.remove_session_listener(self._on_session)
            self._quotes.close()
        self._streams.close()

    def next_order_id(self) -> int:
        """nextValidId for a new connection: above every order id seen so far."""
        return self._next_order_id

    # --- controls and views for tests and faults ----------------------------------------------

    def reject_next(self, reason: str, code: int = 201) -> None:
        """Reject the next order placed or modified with error ``code`` and ``reason``."""
        self._exchange.reject_next(reason, code)

    def set_partial_fills(self, parts: int, *, stall: bool = False) -> None:
        """Split the next order that fills into ``parts`` executions (see the exchange)."""
        self._exchange.set_partial_fills(parts, stall=stall)

    def positions(self, account: str) -> list[PositionView]:
        return self._books.positions(account, self._mark)

    def account(self, account: str) -> AccountSnapshot:
        return self._books.snapshot(account, self._mark)

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def open_orders(self) -> list[OrderSnapshot]:
        return self._exchange.open_orders()

    def completed_orders(self) -> list[OrderSnapshot]:
        return self._exchange.completed_orders()

    # --- orders -----------------------------------------------------------------------------

    def _on_place_order(self, link: ClientLink, fields: list[str]) -> None:
        try:
            request = decode_place_order(fields, link.server_version)
        except OrderFormatError as exc:
            log.warning("client %s sent a malformed placeOrder: %s", link.client_id, exc)
            req_id = exc.order_id if exc.order_id is not None else -1
            link.send_error(req_id, 320, f"Error reading request: {exc}")
            return
        self._next_order_id = max(self._next_order_id, request.order_id + 1)
        if not request.contract.exchange.strip():
            # TWS validates the order before it looks the contract up, conId or not
            link.send_error(request.order_id, 321, _MISSING_EXCHANGE)
            return
        try:
            instrument = self._resolve(request)
        except RequestError as exc:
            if not request.what_if:
                self._record(link, request)
            link.send_error(request.order_id, exc.code, exc.message)
            return
        account = self._books.resolve(request.account)
        if account is not None:
            request = replace(request, account=account)
        if request.what_if:
            self._what_if(link, request, instrument, account)
            return
        self._record(link, request)
        if account is None:
            self._emit([reject(link.client_id, request.order_id, self._unknown_account(request))])
            return
        self._emit(self._exchange.submit(link.client_id, request, instrument))

    def _record(self, link: ClientLink, request: OrderRequest) -> None:
        is_modify = self._exchange.order((link.client_id, request.order_id)) is not None
        self.received.append(ReceivedOrder(link.client_id, self._clock.now(), request, is_modify))

    def _resolve(self, request: OrderRequest) -> Instrument:
        contract = request.contract
        if is_bag(contract.fields()):
            combo = self._combos.resolve(contract.fields(), request.combo_legs, "bN")
            problem = self._combos.routing_problem(request, combo)
            if problem is not None:
                raise problem
            return combo
        if contract.con_id:
            instrument = self._catalogue.by_con_id(contract.con_id)
            if instrument is None:
                raise RequestError(200, "No security definition has been found for the request")
        else:
            instrument = resolve_contract(self._catalogue, contract.fields())
        return instrument

    def _instrument(self, con_id: int) -> Instrument:
        instrument = self._combos.get(con_id) or self._catalogue.by_con_id(con_id)
        if instrument is None:
            raise LookupError(f"conId {con_id} of a booked order is not in the catalogue")
        return instrument

    def _unknown_account(self, request: OrderRequest) -> str:
        return (
            f"Account {request.account} is not managed by this gateway "
            f"(accounts: {', '.join(self._books.codes)})"
        )

    def _what_if(
        self, link: ClientLink, request: OrderRequest, instrument: Instrument, account: str | None
    ) -> None:
        problem = (
            self._unknown_account(request)
            if account is None
            else self._exchange.validate(request, instrument)
        )
        if problem is not None or account is None:
            self._emit([reject(link.client_id, request.order_id, problem or "")])
            return
        quote = self._quotes.quote(instrument.con_id)
        # the price it would execute at: the touch for MKT, its own price otherwise
        if request.order_type == "MKT":
            price: Decimal | None = quote.ask if request.is_buy else quote.bid
        elif request.order_type == "STP":
            price = request.aux_price
        else:
            price = request.lmt_price
        impact = self._books.what_if(
            account,
            _legs(instrument, request.action, request.quantity),
            quote.last if price is None else price,
            self._mark,
        )
        snapshot = OrderSnapshot(
            client_id=link.client_id,
            order_id=request.order_id,
            perm_id=0,
            con_id=instrument.con_id,
            request=request,
            status=Status.PRE_SUBMITTED,
            filled=Decimal(0),
            remaining=request.quantity,
            avg_fill_price=Decimal(0),
            last_fill_price=Decimal(0),
            parent_id=request.parent_id,
            why_held="",
            updated_at=self._clock.now(),
        )
        link.send(
            *open_order_fields(
                snapshot, instrument.contract_fields(), link.server_version, what_if=impact
            )
        )

    def _on_cancel_order(self, link: ClientLink, fields: list[str]) -> None:
        # 4, 1, orderId[, manualOrderCancelTime]
        order_id = int_field(fields, 2, "orderId")
        self._emit(self._exchange.cancel(link.client_id, order_id))

    def _on_global_cancel(self, link: ClientLink, fields: list[str]) -> None:
        self._emit(self._exchange.cancel_all())

    def _on_auto_open_orders(self, link: ClientLink, fields: list[str]) -> None:
        # reqAutoOpenOrders binds orders typed into TWS; there are none in the simulator
        int_field(fields, 2, "autoBind")

    def _on_open_orders(self, link: ClientLink, fields: list[str]) -> None:
        self._send_open_orders(link, self._exchange.open_orders(link.client_id))

    def _on_all_open_orders(self, link: ClientLink, fields: list[str]) -> None:
        self._send_open_orders(link, self._exchange.open_orders())

    def _send_open_orders(self, link: ClientLink, orders: list[OrderSnapshot]) -> None:
        for snapshot in orders:
            self._send_order(link, snapshot)
        link.send(53, 1)

    def _on_completed_orders(self, link: ClientLink, fields: list[str]) -> None:
        # 99, apiOnly: every order of the simulator is an API order
        int_field(fields, 1, "apiOnly")
        for snapshot in self._exchange.completed_orders():
            contract = self._instrument(snapshot.con_id).contract_fields()
            link.send(*completed_order_fields(snapshot, contract, link.server_version))
        link.send(102)

    def _on_executions(self, link: ClientLink, fields: list[str]) -> None:
        # 7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side
        req_id = int_field(fields, 2, "reqId")
        client_id = int_field(fields, 3, "clientId")
        account = text_field(fields, 4, "acctCode")
        since = _parse_filter_time(text_field(fields, 5, "time"))
        symbol = text_field(fields, 6, "symbol").upper()
        sec_type = text_field(fields, 7, "secType").upper()
        exchange = text_field(fields, 8, "exchange").upper()
        side = text_field(fields, 9, "side").upper()
        for execution in self._executions:
            instrument = self._instrument(execution.con_id)
            if (
                (client_id and execution.client_id != client_id)
                or (account and execution.account != account)
                or (since is not None and execution.time < since)
                or (symbol and instrument.symbol != symbol)
                or (sec_type and instrument.sec_type != sec_type)
                or (exchange and instrument.exchange != exchange)
                or (side and execution.side != _side_name(side))
            ):
                continue
            contract = instrument.contract_fields()
            link.send(*exec_details_fields(req_id, execution, contract, link.server_version))
            if not isinstance(instrument, ComboInstrument):
                link.send(*commission_report_fields(execution))
        link.send(55, 1, req_id)

    # --- order events -----------------------------------------------------------------------

    def _owner(self, client_id: int) -> ClientLink | None:
        for link in reversed(self._streams.links()):
            if link.client_id == client_id:
                return link
        return None

    def _send_order(self, link: ClientLink, snapshot: OrderSnapshot) -> None:
        contract = self._instrument(snapshot.con_id).contract_fields()
        link.send(*open_order_fields(snapshot, contract, link.server_version))
        link.send(*order_status_fields(snapshot))

    def _emit(self, events: list[OrderEvent]) -> None:
        for event in events:
            if isinstance(event, OrderFilled):
                self._on_fill(event)
                continue
            if isinstance(event, OrderError):
                link = self._owner(event.client_id)
                if link is not None:
                    link.send_error(event.order_id, event.code, event.message, event.advanced_json)
                continue
            link = self._owner(event.order.client_id)
            if link is None:
                continue
            if isinstance(event, OrderAccepted | OrderChanged):
                self._send_order(link, event.order)
            elif isinstance(event, OrderCancelled):
                link.send(*order_status_fields(event.order))
                link.send_error(
                    event.order.order_id, 202, f"Order Canceled - reason:{event.reason}"
                )

    def _on_fill(self, event: OrderFilled) -> None:
        snapshot = event.order
        request = snapshot.request
        instrument = self._instrument(snapshot.con_id)

        def book(traded: Instrument, side: str, quantity: Decimal, price: Decimal) -> FillCharge:
            return self._books.apply_fill(request.account, traded, side, quantity, price)

        booked = book_fill(
            event, instrument, self._executions, self._leg_quote, book, self._books.currency
        )
        self._executions += booked.reported
        link = self._owner(snapshot.client_id)
        if link is not None:
            # the order clients rely on: execDetails (a combo's legs, then the combo itself),
            # openOrder, orderStatus, commissionReport (per charged execution)
            for execution in booked.reported:
                contract = self._instrument(execution.con_id).contract_fields()
                link.send(*exec_details_fields(-1, execution, contract, link.server_version))
            contract = instrument.contract_fields()
            link.send(*open_order_fields(snapshot, contract, link.server_version))
            link.send(*order_status_fields(snapshot))
            for execution in booked.charged:
                link.send(*commission_report_fields(execution))
        for traded in booked.traded:
            self._streams.publish_position(request.account, traded)
            if traded.sec_type == "FOP" and traded.con_id not in self._expiries:
                self._schedule_expiry(traded)

    # --- option expiry ----------------------------------------------------------------------

    def _schedule_expiry(self, option: Instrument) -> None:
        expires = option.expires_at
        if expires is None:
            return
        delay = min(_EXPIRY_CHECK, max(0.0, (expires - self._clock.now()).total_seconds()))
        loop = asyncio.get_running_loop()
        self._expiries[option.con_id] = loop.call_later(delay, self._expire, option)

    def _expire(self, option: Instrument) -> None:
        """The option's last trade is over: cancel its working orders and settle every
        account's position in it."""
        del self._expiries[option.con_id]
        if not option.is_expired(self._clock.now()):
            self._schedule_expiry(option)
            return
        for order in self._exchange.open_orders():
            if option.con_id in self._traded_con_ids(order.con_id):
                self._emit(self._exchange.cancel(order.client_id, order.order_id))
        underlying = self._instrument(option.under_con_id)
        settlement = self._mark(underlying)
        for account in self._books.codes:
            for changed in settle(self._books, account, option, underlying, settlement):
                self._streams.publish_position(account, changed)

    def _traded_con_ids(self, con_id: int) -> set[int]:
        """The contracts an order on ``con_id`` trades: a combo's legs, or the contract."""
        combo = self._combos.get(con_id)
        return {con_id} if combo is None else {leg.instrument.con_id for leg in combo.legs}

    # --- positions and accounts -------------------------------------------------------------

    def _leg_quote(self, instrument: Instrument) -> Quote:
        return self._market.quote(instrument.con_id)

    def _mark(self, instrument: Instrument) -> Decimal:
        quote = self._market.quote(instrument.con_id)
        if instrument.sec_type == "FOP" and quote.bid > 0:
            return (quote.bid + quote.ask) / 2  # options are marked at the midpoint
        return quote.last

    # --- streams ----------------------------------------------------------------------------

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        events = self._exchange.on_quote(con_id, quote)
        if events:
            self._emit(events)

    def _on_session(self, con_id: int, is_open: bool) -> None:
        self._emit(self._exchange.on_session(con_id, is_open))


def _legs(
    instrument: Instrument, action: str, quantity: Decimal
) -> list[tuple[Instrument, Decimal]]:
    """What an order trades, contract by contract, signed: a combo's legs in ratio."""
    sign = 1 if action == "BUY" else -1
    if isinstance(instrument, ComboInstrument):
        return [(leg.instrument, sign * leg.weight * quantity) for leg in instrument.legs]
    return [(instrument, sign * quantity)]


def _side_name(side: str) -> str:
    return {"BOT": "BUY", "SLD": "SELL"}.get(side, side)


def _parse_filter_time(text: str) -> datetime | None:
    """An ExecutionFilter time (``yyyymmdd hh:mm:ss`` or ``yyyymmdd-hh:mm:ss``, optionally
    followed by a zone the simulator reads as UTC); empty means no filter."""
    text = text.strip()
    if not text:
        return None
    head = text[:17]
    for form in _EXEC_FILTER_FORMATS:
        try:
            return datetime.strptime(head, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise RequestFormatError(f"execution filter time must be yyyymmdd hh:mm:ss, got {text!r}")
