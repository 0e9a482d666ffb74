"""Account ids kept out of the log: a filter on every log handler that masks IB account codes in
each record it is handed, whichever logger made it (the console's, ib_insync's raw frames at
DEBUG, the simulator's), in the message, its arguments and its traceback.

Two nets: the shape of IB's account codes (``U1234567``, ``DU1234567``, ``F…``, ``DF…``, ``I…``)
and every code the session has reported, which catches codes of any other shape once known.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from ibconsole.domain.trading_mode import mask_account

__all__ = ["ACCOUNT_CODE", "AccountMask"]

# Individual (U), paper (DU), advisor master (F, DF) and IBroker (I) accounts: a prefix and digits,
# not inside a longer word. ib_insync logs frames with commas between fields, so the code stands
# between separators there too.
ACCOUNT_CODE = re.compile(r"(?<![A-Za-z0-9])(?:DU|DF|DI|U|F|I)\d{5,9}(?!\d)")


def _masked(match: re.Match[str]) -> str:
    return mask_account(match.group())


class AccountMask(logging.Filter):
    """Installed on the handlers by the console's logging set-up; ``learn`` adds the codes a
    session reports. It rewrites the record in place, so every later handler sees it masked."""

    def __init__(self, accounts: Iterable[str] = ()) -> None:
        super().__init__()
        self._known: frozenset[str] = frozenset()
        self._known_pattern: re.Pattern[str] | None = None
        self.learn(accounts)

    @property
    def known(self) -> frozenset[str]:
        return self._known

    def learn(self, accounts: Iterable[str]) -> None:
        codes = self._known | {code.strip() for code in accounts if code.strip()}
        if codes == self._known:
            return
        self._known = frozenset(codes)
        # Longest first, so a code that contains another is masked whole.
        alternatives = "|".join(re.escape(code) for code in sorted(codes, key=len, reverse=True))
        self._known_pattern = re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")

    def mask(self, text: str) -> str:
        if self._known_pattern is not None:
            text = self._known_pattern.sub(_masked, text)
        return ACCOUNT_CODE.sub(_masked, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # The traceback's text is cached on the record, where every formatter takes it from.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True
