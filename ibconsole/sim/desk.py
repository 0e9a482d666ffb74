"""The order desk of the paper gateway: takes orders, cancels and account requests from API
clients, runs them through the exchange and the books, and reports back on the wire.

Order events go to the connection that placed the order (by clientId, so a client that
reconnects with the same id hears about its orders again); positions, portfolio, account
values, summaries and P&L go to every connection subscribed to them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from ibconsole.sim import account_codec as ac
from ibconsole.sim.accounts import SUMMARY_TAGS, Accounts, AccountSnapshot, PositionView
from ibconsole.sim.clock import SimClock
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
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.link import ClientLink
from ibconsole.sim.market import Market, Quote
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

__all__ = ["Desk", "RequestFormatError"]

log = logging.getLogger(__name__)

Handler = Callable[[ClientLink, list[str]], None]

_PNL_INTERVAL = 1.0
# Account values and portfolio are refreshed every this many P&L intervals (TWS: 3 minutes;
# shorter here so a console shows its account move).
_ACCOUNT_REFRESH_TICKS = 3
_EXEC_FILTER_FORMATS = ("%Y%m%d %H:%M:%S", "%Y%m%d-%H:%M:%S")


class RequestFormatError(ValueError):
    """An inbound request whose fields do not fit its layout."""


def _field(fields: list[str], index: int, name: str) -> str:
    if index >= len(fields):
        raise RequestFormatError(
            f"msg {fields[0] if fields else '?'} has {len(fields)} fields, {name} missing"
        )
    return fields[index]


def _int_field(fields: list[str], index: int, name: str) -> int:
    value = _field(fields, index, name)
    try:
        return int(value or 0)
    except ValueError:
        raise RequestFormatError(
            f"msg {fields[0]} field {name} must be an integer, got {value!r}"
        ) from None


@dataclass(slots=True)
class _Session:
    link: ClientLink
    positions: bool = False
    account_updates: str | None = None
    multi: dict[int, str] = field(default_factory=dict)
    summaries: dict[int, list[str]] = field(default_factory=dict)
    pnl: dict[int, str] = field(default_factory=dict)
    pnl_single: dict[int, tuple[str, int]] = field(default_factory=dict)

    def streams(self) -> bool:
        return bool(self.pnl or self.pnl_single or self.account_updates or self.multi)


class Desk:
    """Orders, executions and accounts of one paper gateway, for all its connections."""

    def __init__(
        self,
        *,
        clock: SimClock,
        catalogue: Catalogue,
        market: Market,
        accounts: Sequence[str],
        seed: int,
    ) -> None:
        self._clock = clock
        self._catalogue = catalogue
        self._market = market
        self._books = Accounts(accounts)
        rng = random.Random(f"desk:{seed}")
        self._exchange = Exchange(
            clock=clock,
            book=market,
            perm_id_base=rng.randrange(100_000_000, 1_000_000_000),
            exec_prefix=f"{rng.getrandbits(32):08x}",
        )
        self._sessions: dict[int, _Session] = {}
        self._executions: list[Execution] = []
        self._next_order_id = 1
        self._timer: asyncio.TimerHandle | None = None
        self._ticks = 0
        self.received: list[ReceivedOrder] = []
        market.add_listener(self._on_quote)
        market.add_session_listener(self._on_session)
        self._listening = True

    # --- wiring -----------------------------------------------------------------------------

    def handlers(self) -> Mapping[int, Handler]:
        return {
            3: self._on_place_order,
            4: self._on_cancel_order,
            5: self._on_open_orders,
            6: self._on_account_updates,
            7: self._on_executions,
            15: self._on_auto_open_orders,
            16: self._on_all_open_orders,
            58: self._on_global_cancel,
            61: self._on_positions,
            62: self._on_account_summary,
            63: self._on_cancel_account_summary,
            64: self._on_cancel_positions,
            76: self._on_account_updates_multi,
            77: self._on_cancel_account_updates_multi,
            92: self._on_pnl,
            93: self._on_cancel_pnl,
            94: self._on_pnl_single,
            95: self._on_cancel_pnl_single,
            99: self._on_completed_orders,
        }

    def attach(self, link: ClientLink) -> None:
        self._sessions[id(link)] = _Session(link)

    def detach(self, link: ClientLink) -> None:
        """Forget a connection's subscriptions; its orders keep working, as at IB."""
        self._sessions.pop(id(link), None)
        self._stop_timer_if_idle()

    def close(self) -> None:
        """Stop the P&L timer and stop listening to the market (gateway shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._listening:
            self._listening = False
            self._market.remove_listener(self._on_quote)
            self._market.remove_session_listener(self._on_session)
        self._sessions.clear()

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
        if contract.con_id:
            instrument = self._catalogue.by_con_id(contract.con_id)
            if instrument is None:
                raise RequestError(200, "No security definition has been found for the request")
        else:
            instrument = resolve_contract(self._catalogue, contract.fields())
        return instrument

    def _instrument(self, con_id: int) -> Instrument:
        instrument = self._catalogue.by_con_id(con_id)
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
        quote = self._market.quote(instrument.con_id)
        # the price it would execute at: the touch for MKT, its own price otherwise
        if request.order_type == "MKT":
            price: Decimal | None = quote.ask if request.is_buy else quote.bid
        elif request.order_type == "STP":
            price = request.aux_price
        else:
            price = request.lmt_price
        impact = self._books.what_if(
            account,
            instrument,
            request.action,
            request.quantity,
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
        order_id = _int_field(fields, 2, "orderId")
        self._emit(self._exchange.cancel(link.client_id, order_id))

    def _on_global_cancel(self, link: ClientLink, fields: list[str]) -> None:
        self._emit(self._exchange.cancel_all())

    def _on_auto_open_orders(self, link: ClientLink, fields: list[str]) -> None:
        # reqAutoOpenOrders binds orders typed into TWS; there are none in the simulator
        _int_field(fields, 2, "autoBind")

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
        _int_field(fields, 1, "apiOnly")
        for snapshot in self._exchange.completed_orders():
            contract = self._instrument(snapshot.con_id).contract_fields()
            link.send(*completed_order_fields(snapshot, contract, link.server_version))
        link.send(102)

    def _on_executions(self, link: ClientLink, fields: list[str]) -> None:
        # 7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side
        req_id = _int_field(fields, 2, "reqId")
        client_id = _int_field(fields, 3, "clientId")
        account = _field(fields, 4, "acctCode")
        since = _parse_filter_time(_field(fields, 5, "time"))
        symbol = _field(fields, 6, "symbol").upper()
        sec_type = _field(fields, 7, "secType").upper()
        exchange = _field(fields, 8, "exchange").upper()
        side = _field(fields, 9, "side").upper()
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
            link.send(*commission_report_fields(execution))
        link.send(55, 1, req_id)

    # --- order events -----------------------------------------------------------------------

    def _owner(self, client_id: int) -> ClientLink | None:
        for session in reversed(self._sessions.values()):
            if session.link.client_id == client_id:
                return session.link
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
        charge = self._books.apply_fill(
            request.account, instrument, request.action, event.shares, event.price
        )
        execution = Execution(
            exec_id=event.exec_id,
            time=event.time,
            account=request.account,
            client_id=snapshot.client_id,
            order_id=snapshot.order_id,
            perm_id=snapshot.perm_id,
            con_id=instrument.con_id,
            side=request.action,
            shares=event.shares,
            price=event.price,
            cum_qty=snapshot.filled,
            avg_price=snapshot.avg_fill_price,
            order_ref=request.order_ref,
            model_code=request.model_code,
            commission=charge.commission,
            commission_currency=self._books.currency,
            realized_pnl=charge.realized_pnl,
        )
        self._executions.append(execution)
        link = self._owner(snapshot.client_id)
        contract = instrument.contract_fields()
        if link is not None:
            # the order clients rely on: execDetails, openOrder, orderStatus, commissionReport
            link.send(*exec_details_fields(-1, execution, contract, link.server_version))
            link.send(*open_order_fields(snapshot, contract, link.server_version))
            link.send(*order_status_fields(snapshot))
            link.send(*commission_report_fields(execution))
        self._publish_position(request.account, instrument)

    # --- positions and accounts -------------------------------------------------------------

    def _mark(self, instrument: Instrument) -> Decimal:
        return self._market.quote(instrument.con_id).last

    def _publish_position(self, account: str, instrument: Instrument) -> None:
        view = self._books.position(account, instrument.con_id, self._mark)
        if view is None:
            return
        snapshot = self.account(account)
        for session in self._sessions.values():
            link = session.link
            if session.positions:
                link.send(*ac.position_fields(view))
            if session.account_updates == account:
                link.send(*ac.portfolio_fields(view))
                self._send_account_values(link, snapshot)
            for req_id, wanted in session.multi.items():
                if wanted in (account, "All"):
                    self._send_multi(link, req_id, snapshot)
            for req_id, tags in session.summaries.items():
                self._send_summary(link, req_id, tags, [snapshot])

    def _send_account_values(self, link: ClientLink, snapshot: AccountSnapshot) -> None:
        for key, value, currency in snapshot.values():
            link.send(*ac.account_value_fields(key, value, currency, snapshot.account))
        link.send(*ac.account_time_fields(self._clock.now()))

    def _send_multi(self, link: ClientLink, req_id: int, snapshot: AccountSnapshot) -> None:
        for key, value, currency in snapshot.values():
            link.send(
                *ac.account_update_multi_fields(req_id, snapshot.account, "", key, value, currency)
            )

    def _send_summary(
        self, link: ClientLink, req_id: int, tags: list[str], snapshots: list[AccountSnapshot]
    ) -> None:
        for snapshot in snapshots:
            for tag, value, currency in snapshot.summary(tags):
                link.send(
                    *ac.account_summary_fields(req_id, snapshot.account, tag, value, currency)
                )

    def _session(self, link: ClientLink) -> _Session:
        session = self._sessions.get(id(link))
        if session is None:
            session = self._sessions[id(link)] = _Session(link)
        return session

    def _checked_account(self, link: ClientLink, req_id: int, account: str) -> str | None:
        resolved = self._books.resolve(account)
        if resolved is None:
            link.send_error(
                req_id, 321, f"Error validating request.-'account' : cause - unknown {account!r}"
            )
        return resolved

    def _on_positions(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).positions = True
        for account in self._books.codes:
            for view in self.positions(account):
                link.send(*ac.position_fields(view))
        link.send(62, 1)

    def _on_cancel_positions(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).positions = False

    def _on_account_updates(self, link: ClientLink, fields: list[str]) -> None:
        # 6, 2, subscribe, acctCode
        subscribe = _int_field(fields, 2, "subscribe")
        requested = _field(fields, 3, "acctCode")
        session = self._session(link)
        if not subscribe:
            session.account_updates = None
            self._stop_timer_if_idle()
            return
        account = self._checked_account(link, -1, requested)
        if account is None:
            link.send(54, 1, requested)
            return
        session.account_updates = account
        snapshot = self.account(account)
        self._send_account_values(link, snapshot)
        for view in self.positions(account):
            link.send(*ac.portfolio_fields(view))
        link.send(54, 1, account)
        self._start_timer()

    def _on_account_updates_multi(self, link: ClientLink, fields: list[str]) -> None:
        # 76, 1, reqId, account, modelCode, ledgerAndNLV
        req_id = _int_field(fields, 2, "reqId")
        requested = _field(fields, 3, "account")
        accounts = (
            list(self._books.codes)
            if requested in ("", "All")
            else [self._checked_account(link, req_id, requested)]
        )
        for account in accounts:
            if account is not None:
                self._send_multi(link, req_id, self.account(account))
        self._session(link).multi[req_id] = requested or "All"
        link.send(74, 1, req_id)
        self._start_timer()

    def _on_cancel_account_updates_multi(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).multi.pop(_int_field(fields, 2, "reqId"), None)
        self._stop_timer_if_idle()

    def _on_account_summary(self, link: ClientLink, fields: list[str]) -> None:
        # 62, 1, reqId, group, tags
        req_id = _int_field(fields, 2, "reqId")
        tags = [tag for tag in _field(fields, 4, "tags").split(",") if tag.strip()]
        unknown = [
            tag
            for tag in tags
            if tag.strip() not in SUMMARY_TAGS and not tag.strip().startswith("$LEDGER")
        ]
        if unknown:
            log.info("account summary tags the simulator does not know: %s", unknown)
        snapshots = [self.account(account) for account in self._books.codes]
        self._send_summary(link, req_id, tags, snapshots)
        self._session(link).summaries[req_id] = tags
        link.send(64, 1, req_id)

    def _on_cancel_account_summary(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).summaries.pop(_int_field(fields, 2, "reqId"), None)

    def _on_pnl(self, link: ClientLink, fields: list[str]) -> None:
        # 92, reqId, account, modelCode
        req_id = _int_field(fields, 1, "reqId")
        account = self._checked_account(link, req_id, _field(fields, 2, "account"))
        if account is None:
            return
        self._session(link).pnl[req_id] = account
        self._send_pnl(link, req_id, account)
        self._start_timer()

    def _on_cancel_pnl(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).pnl.pop(_int_field(fields, 1, "reqId"), None)
        self._stop_timer_if_idle()

    def _on_pnl_single(self, link: ClientLink, fields: list[str]) -> None:
        # 94, reqId, account, modelCode, conId
        req_id = _int_field(fields, 1, "reqId")
        account = self._checked_account(link, req_id, _field(fields, 2, "account"))
        con_id = _int_field(fields, 4, "conId")
        if account is None:
            return
        self._session(link).pnl_single[req_id] = (account, con_id)
        self._send_pnl_single(link, req_id, account, con_id)
        self._start_timer()

    def _on_cancel_pnl_single(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).pnl_single.pop(_int_field(fields, 1, "reqId"), None)
        self._stop_timer_if_idle()

    def _send_pnl(self, link: ClientLink, req_id: int, account: str) -> None:
        snapshot = self.account(account)
        link.send(
            *ac.pnl_fields(
                req_id, snapshot.daily_pnl, snapshot.unrealized_pnl, snapshot.realized_pnl
            )
        )

    def _send_pnl_single(self, link: ClientLink, req_id: int, account: str, con_id: int) -> None:
        link.send(*ac.pnl_single_fields(req_id, self._books.position(account, con_id, self._mark)))

    # --- streams ----------------------------------------------------------------------------

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        events = self._exchange.on_quote(con_id, quote)
        if events:
            self._emit(events)

    def _on_session(self, con_id: int, is_open: bool) -> None:
        self._emit(self._exchange.on_session(con_id, is_open))

    def _start_timer(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(_PNL_INTERVAL, self._on_timer)

    def _stop_timer_if_idle(self) -> None:
        if self._timer is not None and not any(s.streams() for s in self._sessions.values()):
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self._ticks += 1
        refresh_accounts = self._ticks % _ACCOUNT_REFRESH_TICKS == 0
        for session in list(self._sessions.values()):
            link = session.link
            for req_id, account in session.pnl.items():
                self._send_pnl(link, req_id, account)
            for req_id, (account, con_id) in session.pnl_single.items():
                self._send_pnl_single(link, req_id, account, con_id)
            if refresh_accounts and session.account_updates is not None:
                account = session.account_updates
                for view in self.positions(account):
                    link.send(*ac.portfolio_fields(view))
                self._send_account_values(link, self.account(account))
        if any(s.streams() for s in self._sessions.values()):
            self._start_timer()


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
