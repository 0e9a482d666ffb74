"""The market with combos in it: the simulator's :class:`Market` for every listed contract, and
for each combo in use a quote derived from its legs, updated whenever a leg's quote moves.

Combos are keyed by their (negative) simulator conId. Holding a combo holds its legs, so they
tick while a combo order works or a client watches the combo; a combo is in session only while
every leg's exchange is.
"""

from __future__ import annotations

from datetime import datetime

from ibconsole.sim.combo_pricing import ComboBook
from ibconsole.sim.combos import ComboInstrument, Combos
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.market import Market, Quote, QuoteListener, SessionListener

__all__ = ["ComboMarket"]


class ComboMarket:
    """Quotes, sessions and holds for contracts and combos alike (see the module docstring).

    Listeners added here hear every contract's updates (straight from the market) and every
    held combo's updates, each under its own conId.
    """

    def __init__(self, market: Market, combos: Combos) -> None:
        self._market = market
        self.combos = combos
        self._listeners: list[QuoteListener] = []
        self._session_listeners: list[SessionListener] = []
        self._books: dict[int, ComboBook] = {}
        self._holds: dict[int, int] = {}
        self._by_leg: dict[int, list[ComboBook]] = {}
        self._listening = False

    def instrument(self, con_id: int) -> Instrument:
        combo = self.combos.get(con_id)
        return combo if combo is not None else self._market.instrument(con_id)

    def quote(self, con_id: int) -> Quote:
        combo = self.combos.get(con_id)
        if combo is None:
            return self._market.quote(con_id)
        return self._book(combo).update(self._leg_quotes(combo))

    def is_open(self, con_id: int, at: datetime | None = None) -> bool:
        combo = self.combos.get(con_id)
        if combo is None:
            return self._market.is_open(con_id, at)
        return all(self._market.is_open(leg.instrument.con_id, at) for leg in combo.legs)

    def hold(self, con_id: int) -> None:
        combo = self.combos.get(con_id)
        if combo is None:
            self._market.hold(con_id)
            return
        for leg in combo.legs:
            self._market.hold(leg.instrument.con_id)
        count = self._holds.get(con_id, 0)
        self._holds[con_id] = count + 1
        if count == 0:
            book = self._book(combo)
            for leg in combo.legs:
                self._by_leg.setdefault(leg.instrument.con_id, []).append(book)
            self._listen(True)

    def release(self, con_id: int) -> None:
        combo = self.combos.get(con_id)
        if combo is None:
            self._market.release(con_id)
            return
        count = self._holds.get(con_id, 0)
        if count == 0:
            raise ValueError(f"release of combo {con_id}, which is not held")
        for leg in combo.legs:
            self._market.release(leg.instrument.con_id)
        if count > 1:
            self._holds[con_id] = count - 1
            return
        del self._holds[con_id]
        book = self._books[con_id]
        for leg in combo.legs:
            watchers = self._by_leg[leg.instrument.con_id]
            watchers.remove(book)
            if not watchers:
                del self._by_leg[leg.instrument.con_id]
        self._listen(bool(self._holds))

    def add_listener(self, fn: QuoteListener) -> None:
        self._market.add_listener(fn)
        self._listeners.append(fn)

    def remove_listener(self, fn: QuoteListener) -> None:
        self._market.remove_listener(fn)
        self._listeners.remove(fn)

    def add_session_listener(self, fn: SessionListener) -> None:
        self._market.add_session_listener(fn)
        self._session_listeners.append(fn)

    def remove_session_listener(self, fn: SessionListener) -> None:
        self._market.remove_session_listener(fn)
        self._session_listeners.remove(fn)

    def close(self) -> None:
        """Stop listening to the market (gateway shutdown)."""
        self._listen(False)

    # --- internals --------------------------------------------------------------------------

    def _book(self, combo: ComboInstrument) -> ComboBook:
        book = self._books.get(combo.con_id)
        if book is None:
            book = self._books[combo.con_id] = ComboBook(combo)
        return book

    def _leg_quotes(self, combo: ComboInstrument) -> list[Quote]:
        return [self._market.quote(leg.instrument.con_id) for leg in combo.legs]

    def _listen(self, wanted: bool) -> None:
        """Hear the legs' updates only while some combo is held: no cost for plain quotes."""
        if wanted == self._listening:
            return
        self._listening = wanted
        if wanted:
            self._market.add_listener(self._on_leg_quote)
            self._market.add_session_listener(self._on_leg_session)
        else:
            self._market.remove_listener(self._on_leg_quote)
            self._market.remove_session_listener(self._on_leg_session)

    def _on_leg_quote(self, con_id: int, quote: Quote) -> None:
        books = self._by_leg.get(con_id)
        if not books:
            return
        for book in tuple(books):
            combo_quote = book.update(self._leg_quotes(book.combo))
            for listener in tuple(self._listeners):
                listener(book.combo.con_id, combo_quote)

    def _on_leg_session(self, con_id: int, is_open: bool) -> None:
        for book in tuple(self._by_leg.get(con_id, ())):
            combo_id = book.combo.con_id
            combo_open = self.is_open(combo_id)
            for listener in tuple(self._session_listeners):
                listener(combo_id, combo_open)
