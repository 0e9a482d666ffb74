"""The account mask on the log handlers: no record reaches a handler with an account id."""

from __future__ import annotations

import logging

import pytest

from ibconsole.log_masking import AccountMask


class Lines(logging.Handler):
    def __init__(self, mask: AccountMask) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(mask)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def third_party() -> logging.Logger:
    logger = logging.getLogger("ib_insync.client.masking-test")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


@pytest.mark.parametrize(
    ("message", "args", "shown"),
    [
        ("<<< %s", ("15,1,DU1234567",), "ib_insync.client.masking-test <<< 15,1,DU*****67"),
        ("account %s is %s", ("U7654321", "LIVE"), "account U7****21 is LIVE"),
        ("advisor F1234567 and DF7654321", (), "advisor F1****67 and DF*****21"),
        ("order 1234567 and con_id 495512557", (), "order 1234567 and con_id 495512557"),
        ("USD1234567 is no account", (), "USD1234567 is no account"),
    ],
)
def test_ib_account_codes_are_masked_in_any_logger(
    third_party: logging.Logger, message: str, args: tuple[object, ...], shown: str
) -> None:
    handler = Lines(AccountMask())
    third_party.addHandler(handler)
    try:
        third_party.debug(message, *args)
    finally:
        third_party.removeHandler(handler)
    assert len(handler.lines) == 1
    assert handler.lines[0].endswith(shown)


def test_a_code_the_session_reported_is_masked_whatever_its_shape(
    third_party: logging.Logger,
) -> None:
    mask = AccountMask()
    handler = Lines(mask)
    third_party.addHandler(handler)
    try:
        third_party.info("managed %s", "XQ55512")
        mask.learn(("XQ55512",))
        third_party.info("managed %s", "XQ55512")
    finally:
        third_party.removeHandler(handler)
    assert handler.lines[0].endswith("managed XQ55512")  # an unknown shape, not yet learnt
    assert handler.lines[1].endswith("managed XQ***12")


def test_tracebacks_are_masked_too(third_party: logging.Logger) -> None:
    handler = Lines(AccountMask())
    third_party.addHandler(handler)
    try:
        try:
            raise ValueError("account DU1234567 is not managed")
        except ValueError:
            third_party.exception("sync failed")
    finally:
        third_party.removeHandler(handler)
    text = handler.lines[0]
    assert "DU1234567" not in text
    assert "ValueError: account DU*****67 is not managed" in text
