"""The account streams of the paper gateway: positions (61/64), account updates (6),
account updates multi (76/77), account summaries (62/63), P&L (92/93) and single-position P&L
(94/95), subscribed per connection and kept current as fills move the books.

Positions, portfolio, account values, summaries and P&L go to every connection subscribed to
them; P&L streams every second, account values and portfolio every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ibconsole.sim import account_codec as ac
from ibconsole.sim.accounts import SUMMARY_TAGS, Accounts, AccountSnapshot, Marks
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.link import ClientLink
from ibconsole.sim.request_fields import int_field, text_field

__all__ = ["AccountStreams"]

log = logging.getLogger(__name__)

Handler = Callable[[ClientLink, list[str]], None]

_PNL_INTERVAL = 1.0
# Account values and portfolio are refreshed every this many P&L intervals (TWS: 3 minutes;
# shorter here so a console shows its account move).
_ACCOUNT_REFRESH_TICKS = 3


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


class AccountStreams:
    """Every connection's subscriptions to positions, account values, summaries and P&L."""

    def __init__(self, *, clock: SimClock, books: Accounts, marks: Marks) -> None:
        self._clock = clock
        self._books = books
        self._mark = marks
        self._sessions: dict[int, _Session] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._ticks = 0

    def handlers(self) -> Mapping[int, Handler]:
        return {
            6: self._on_account_updates,
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
        }

    def attach(self, link: ClientLink) -> None:
        self._sessions[id(link)] = _Session(link)

    def detach(self, link: ClientLink) -> None:
        self._sessions.pop(id(link), None)
        self._stop_timer_if_idle()

    def close(self) -> None:
        """Stop the P&L timer and forget every subscription (gateway shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sessions.clear()

    def links(self) -> list[ClientLink]:
        """The connections known here, oldest first."""
        return [session.link for session in self._sessions.values()]

    def publish_position(self, account: str, instrument: Instrument) -> None:
        view = self._books.position(account, instrument.con_id, self._mark)
        if view is None:
            return
        snapshot = self._books.snapshot(account, self._mark)
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
            for view in self._books.positions(account, self._mark):
                link.send(*ac.position_fields(view))
        link.send(62, 1)

    def _on_cancel_positions(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).positions = False

    def _on_account_updates(self, link: ClientLink, fields: list[str]) -> None:
        # 6, 2, subscribe, acctCode
        subscribe = int_field(fields, 2, "subscribe")
        requested = text_field(fields, 3, "acctCode")
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
        snapshot = self._books.snapshot(account, self._mark)
        self._send_account_values(link, snapshot)
        for view in self._books.positions(account, self._mark):
            link.send(*ac.portfolio_fields(view))
        link.send(54, 1, account)
        self._start_timer()

    def _on_account_updates_multi(self, link: ClientLink, fields: list[str]) -> None:
        # 76, 1, reqId, account, modelCode, ledgerAndNLV
        req_id = int_field(fields, 2, "reqId")
        requested = text_field(fields, 3, "account")
        accounts = (
            list(self._books.codes)
            if requested in ("", "All")
            else [self._checked_account(link, req_id, requested)]
        )
        for account in accounts:
            if account is not None:
                self._send_multi(link, req_id, self._books.snapshot(account, self._mark))
        self._session(link).multi[req_id] = requested or "All"
        link.send(74, 1, req_id)
        self._start_timer()

    def _on_cancel_account_updates_multi(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).multi.pop(int_field(fields, 2, "reqId"), None)
        self._stop_timer_if_idle()

    def _on_account_summary(self, link: ClientLink, fields: list[str]) -> None:
        # 62, 1, reqId, group, tags
        req_id = int_field(fields, 2, "reqId")
        tags = [tag for tag in text_field(fields, 4, "tags").split(",") if tag.strip()]
        unknown = [
            tag
            for tag in tags
            if tag.strip() not in SUMMARY_TAGS and not tag.strip().startswith("$LEDGER")
        ]
        if unknown:
            log.info("account summary tags the simulator does not know: %s", unknown)
        snapshots = [self._books.snapshot(account, self._mark) for account in self._books.codes]
        self._send_summary(link, req_id, tags, snapshots)
        self._session(link).summaries[req_id] = tags
        link.send(64, 1, req_id)

    def _on_cancel_account_summary(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).summaries.pop(int_field(fields, 2, "reqId"), None)

    def _on_pnl(self, link: ClientLink, fields: list[str]) -> None:
        # 92, reqId, account, modelCode
        req_id = int_field(fields, 1, "reqId")
        account = self._checked_account(link, req_id, text_field(fields, 2, "account"))
        if account is None:
            return
        self._session(link).pnl[req_id] = account
        self._send_pnl(link, req_id, account)
        self._start_timer()

    def _on_cancel_pnl(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).pnl.pop(int_field(fields, 1, "reqId"), None)
        self._stop_timer_if_idle()

    def _on_pnl_single(self, link: ClientLink, fields: list[str]) -> None:
        # 94, reqId, account, modelCode, conId
        req_id = int_field(fields, 1, "reqId")
        account = self._checked_account(link, req_id, text_field(fields, 2, "account"))
        con_id = int_field(fields, 4, "conId")
        if account is None:
            return
        self._session(link).pnl_single[req_id] = (account, con_id)
        self._send_pnl_single(link, req_id, account, con_id)
        self._start_timer()

    def _on_cancel_pnl_single(self, link: ClientLink, fields: list[str]) -> None:
        self._session(link).pnl_single.pop(int_field(fields, 1, "reqId"), None)
        self._stop_timer_if_idle()

    def _send_pnl(self, link: ClientLink, req_id: int, account: str) -> None:
        snapshot = self._books.snapshot(account, self._mark)
        link.send(
            *ac.pnl_fields(
                req_id, snapshot.daily_pnl, snapshot.unrealized_pnl, snapshot.realized_pnl
            )
        )

    def _send_pnl_single(self, link: ClientLink, req_id: int, account: str, con_id: int) -> None:
        link.send(*ac.pnl_single_fields(req_id, self._books.position(account, con_id, self._mark)))

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
                for view in self._books.positions(account, self._mark):
                    link.send(*ac.portfolio_fields(view))
                self._send_account_values(link, self._books.snapshot(account, self._mark))
        if any(s.streams() for s in self._sessions.values()):
            self._start_timer()
