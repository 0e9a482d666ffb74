"""Product specifications against CME Group's published contract specs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibconsole.domain.products import (
    PRODUCTS,
    AssetClass,
    RollRule,
    RollRuleKind,
    UnknownProductError,
    product,
    siblings,
)

# symbol, IB symbol, exchange, multiplier, tick, cycle, asset class, family
SPECS = [
    ("ES", "ES", "CME", "50", "0.25", "HMUZ", AssetClass.EQUITY_INDEX, "ES"),
    ("MES", "MES", "CME", "5", "0.25", "HMUZ", AssetClass.EQUITY_INDEX, "ES"),
    ("NQ", "NQ", "CME", "20", "0.25", "HMUZ", AssetClass.EQUITY_INDEX, "NQ"),
    ("MNQ", "MNQ", "CME", "2", "0.25", "HMUZ", AssetClass.EQUITY_INDEX, "NQ"),
    ("RTY", "RTY", "CME", "50", "0.10", "HMUZ", AssetClass.EQUITY_INDEX, "RTY"),
    ("M2K", "M2K", "CME", "5", "0.10", "HMUZ", AssetClass.EQUITY_INDEX, "RTY"),
    ("YM", "YM", "CBOT", "5", "1", "HMUZ", AssetClass.EQUITY_INDEX, "YM"),
    ("MYM", "MYM", "CBOT", "0.5", "1", "HMUZ", AssetClass.EQUITY_INDEX, "YM"),
    ("CL", "CL", "NYMEX", "1000", "0.01", "FGHJKMNQUVXZ", AssetClass.ENERGY, "CL"),
    ("MCL", "MCL", "NYMEX", "100", "0.01", "FGHJKMNQUVXZ", AssetClass.ENERGY, "CL"),
    ("NG", "NG", "NYMEX", "10000", "0.001", "FGHJKMNQUVXZ", AssetClass.ENERGY, "NG"),
    ("GC", "GC", "COMEX", "100", "0.10", "GJMQVZ", AssetClass.METAL, "GC"),
    ("MGC", "MGC", "COMEX", "10", "0.10", "GJMQVZ", AssetClass.METAL, "GC"),
    ("ZN", "ZN", "CBOT", "1000", "0.015625", "HMUZ", AssetClass.RATES, "ZN"),
    ("ZB", "ZB", "CBOT", "1000", "0.03125", "HMUZ", AssetClass.RATES, "ZB"),
    ("6E", "EUR", "CME", "125000", "0.00005", "HMUZ", AssetClass.FX, "6E"),
]


@pytest.mark.parametrize(
    ("symbol", "ib_symbol", "exchange", "multiplier", "tick", "cycle", "asset_class", "family"),
    SPECS,
)
def test_contract_specifications(
    symbol: str,
    ib_symbol: str,
    exchange: str,
    multiplier: str,
    tick: str,
    cycle: str,
    asset_class: AssetClass,
    family: str,
) -> None:
    item = product(symbol)
    assert item.symbol == symbol
    assert item.trading_class == symbol
    assert item.ib_symbol == ib_symbol
    assert item.exchange == exchange
    assert item.currency == "USD"
    assert item.multiplier == Decimal(multiplier)
    assert item.min_tick == Decimal(tick)
    assert item.cycle == cycle
    assert item.asset_class is asset_class
    assert item.family == family
    assert item.time_zone == "America/Chicago"
    assert item.calendar == "CMES"


def test_the_catalogue_is_exactly_the_specified_products() -> None:
    assert set(PRODUCTS) == {row[0] for row in SPECS}


def test_treasury_ticks_are_the_binary_fractions() -> None:
    assert product("ZN").min_tick == Decimal(1) / 64
    assert product("ZB").min_tick == Decimal(1) / 32


def test_every_family_head_is_a_full_size_product_of_its_own_family() -> None:
    for item in PRODUCTS.values():
        head = PRODUCTS[item.family]
        assert head.family == head.symbol
        assert head.cycle == item.cycle
        assert item.is_micro == (item.symbol != head.symbol)
        if item.is_micro:
            assert item.multiplier < head.multiplier


def test_equity_index_rolls_eight_calendar_days_before_expiry() -> None:
    for symbol in ("ES", "NQ", "RTY", "YM"):
        assert product(symbol).roll_rule == RollRule(RollRuleKind.CALENDAR_DAYS, 8)


def test_energy_rolls_on_business_days() -> None:
    assert product("CL").roll_rule.kind is RollRuleKind.BUSINESS_DAYS


def test_unknown_product_names_itself_and_the_known_ones() -> None:
    with pytest.raises(UnknownProductError) as caught:
        product("ESX")
    message = str(caught.value)
    assert "'ESX'" in message
    assert "ES, MES" in message
    assert "6E" in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("MES", ("ES",)),
        ("ES", ("MES",)),
        ("MNQ", ("NQ",)),
        ("RTY", ("M2K",)),
        ("MYM", ("YM",)),
        ("CL", ("MCL",)),
        ("MGC", ("GC",)),
        ("NG", ()),
        ("ZN", ()),
        ("6E", ()),
    ],
)
def test_siblings_are_the_other_family_members(symbol: str, expected: tuple[str, ...]) -> None:
    assert tuple(p.symbol for p in siblings(symbol)) == expected


def test_siblings_of_an_unknown_symbol_is_an_error() -> None:
    with pytest.raises(UnknownProductError, match="'XYZ'"):
        siblings("XYZ")


def test_a_negative_roll_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="zero or more days"):
        RollRule(RollRuleKind.CALENDAR_DAYS, -1)


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        PRODUCTS["XX"] = PRODUCTS["ES"]  # type: ignore[index]
