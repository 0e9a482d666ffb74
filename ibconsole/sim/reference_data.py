"""Small look-ups TWS answers from its own reference data, served from the simulator's catalogue
and books: matching symbols (81 -> 79), family codes (80 -> 78), SMART components (83 -> 82),
news providers (85 -> 85), soft-dollar tiers (79 -> 77), user
info (104 -> 107), display groups (67/68/69 -> 67/68), positions by account (74 -> 71/72), and
the requests TWS accepts without a word until something happens (news bulletins 12/13, server
log level 14, display-group unsubscribe 70, and the cancels of requests served here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ibconsole.sim.accounts import PositionView
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.link import ClientLink

__all__ = ["ReferenceDataService"]

Handler = Callable[[ClientLink, list[str]], None]
Positions = Callable[[str], list[PositionView]]

_MATCHES = 16  # TWS returns at most this many symbol samples
_DERIVATIVES = {"STK": ("OPT", "WAR", "CFD"), "IND": ("FUT", "FOP")}
# TWS's display groups: seven colour-coded groups, "1|2|...|7"
_DISPLAY_GROUPS = "|".join(str(group) for group in range(1, 8))
# The exchanges SMART routes US stocks to, with the letters TWS uses for them in tick 84
# ("a6"-style bboExchange tokens) and the bit number of each.
_SMART_COMPONENTS = (
    (1, "NASDAQ", "Q"),
    (2, "ARCA", "P"),
    (3, "NYSE", "N"),
    (4, "BATS", "Z"),
    (5, "IEX", "V"),
    (6, "ISLAND", "T"),
)


class ReferenceDataService:
    def __init__(self, catalogue: Catalogue, accounts: Sequence[str], positions: Positions) -> None:
        self._catalogue = catalogue
        self._accounts = tuple(accounts)
        self._positions = positions

    def handlers(self) -> Mapping[int, Handler]:
        silent: Handler = self._accept
        return {
            12: silent,  # reqNewsBulletins: bulletins come when IB publishes one
            13: silent,  # cancelNewsBulletins
            14: silent,  # setServerLogLevel
            67: self._on_display_groups,
            68: self._on_subscribe_group,
            69: self._on_update_group,
            70: silent,  # unsubscribeFromGroupEvents
            74: self._on_positions_multi,
            75: silent,  # cancelPositionsMulti
            79: self._on_soft_dollar_tiers,
            80: self._on_family_codes,
            81: self._on_matching_symbols,
            83: self._on_smart_components,
            85: self._on_news_providers,
            104: self._on_user_info,
        }

    def _accept(self, link: ClientLink, fields: list[str]) -> None:
        """A request TWS takes without replying."""

    # ---- display groups ----------------------------------------------------------------------

    def _on_display_groups(self, link: ClientLink, fields: list[str]) -> None:
        link.send(67, 1, int(fields[2]), _DISPLAY_GROUPS)

    def _on_subscribe_group(self, link: ClientLink, fields: list[str]) -> None:
        # nothing is shown in the group yet: TWS reports "none"
        link.send(68, 1, int(fields[2]), "none")

    def _on_update_group(self, link: ClientLink, fields: list[str]) -> None:
        link.send(68, 1, int(fields[2]), fields[3])

    # ---- account-related ---------------------------------------------------------------------

    def _on_positions_multi(self, link: ClientLink, fields: list[str]) -> None:
        # 74, version, reqId, account, modelCode
        req_id, account = int(fields[2]), fields[3]
        accounts = self._accounts if account in ("", "All") else (account,)
        unknown = [code for code in accounts if code not in self._accounts]
        if unknown:
            cause = f"Account {unknown[0]} is not managed by this gateway"
            link.send_error(req_id, 321, f"Error validating request.-'bN' : cause - {cause}")
            return
        for code in accounts:
            for view in self._positions(code):
                block = view.instrument.contract_fields()
                link.send(
                    71, 1, req_id, code, *block[0:8], *block[9:12], view.quantity,
                    view.avg_cost, fields[4],
                )  # fmt: skip
        link.send(72, 1, req_id)

    def _on_soft_dollar_tiers(self, link: ClientLink, fields: list[str]) -> None:
        link.send(77, int(fields[1]), 0)

    def _on_family_codes(self, link: ClientLink, fields: list[str]) -> None:
        # an individual account belongs to no family: its code is empty
        pairs = [item for account in self._accounts for item in (account, "")]
        link.send(78, len(self._accounts), *pairs)

    def _on_user_info(self, link: ClientLink, fields: list[str]) -> None:
        link.send(107, int(fields[1]), "")  # no white-branding id

    # ---- contracts -----------------------------------------------------------------------------

    def _on_matching_symbols(self, link: ClientLink, fields: list[str]) -> None:
        # 81, reqId, pattern
        req_id, pattern = int(fields[1]), fields[2].strip().upper()
        samples: dict[tuple[str, str], Instrument] = {}
        if pattern:
            for instrument in self._catalogue.listed():
                names = (instrument.symbol, instrument.long_name.upper())
                if any(name.startswith(pattern) for name in names):
                    sec_type = "IND" if instrument.sec_type == "FUT" else instrument.sec_type
                    key = (instrument.symbol, sec_type)
                    samples.setdefault(key, instrument)
        # the exact symbol first, as TWS lists it
        matches = sorted(samples.items(), key=lambda item: (item[0][0] != pattern, item[0]))
        matches = matches[:_MATCHES]
        flat: list[object] = []
        for (symbol, sec_type), instrument in matches:
            flat += _sample(symbol, sec_type, instrument)
        link.send(79, req_id, len(matches), *flat)

    def _on_smart_components(self, link: ClientLink, fields: list[str]) -> None:
        flat = [item for component in _SMART_COMPONENTS for item in component]
        link.send(82, int(fields[1]), len(_SMART_COMPONENTS), *flat)

    # ---- news ----------------------------------------------------------------------------------

    def _on_news_providers(self, link: ClientLink, fields: list[str]) -> None:
        link.send(85, 0)  # a paper account subscribes to no news feed


def _sample(symbol: str, sec_type: str, instrument: Instrument) -> tuple[object, ...]:
    """One contract description of symbolSamples: a future's family is listed as its index, the
    way TWS lists ES (IND on CME, derivatives FUT and FOP)."""
    if sec_type == "IND":
        con_id, exchange, currency = instrument.under_con_id, instrument.exchange, "USD"
    else:
        con_id, exchange, currency = (
            instrument.con_id,
            instrument.primary_exchange or instrument.exchange,
            instrument.currency,
        )
    derivatives = _DERIVATIVES.get(sec_type, ())
    return (
        con_id,
        symbol,
        sec_type,
        exchange,
        currency,
        len(derivatives),
        *derivatives,
        instrument.long_name,  # description
        "",  # issuerId
    )
