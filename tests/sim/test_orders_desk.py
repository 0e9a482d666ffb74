"""The desk's wire conversation, message by message, through a recording link (no socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from ibconsole.sim.clock import SimClock
from ibconsole.sim.desk import Desk
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import Market
from ibconsole.sim.wire import encode_field

ACCOUNT = "DU1234567"


class RecordingLink:
    def __init__(self, client_id: int, server_version: int = 176) -> None:
        self.client_id = client_id
        self.server_version = server_version
        self.messages: list[list[str]] = []

    def send(self, *fields: object) -> None:
        self.messages.append([encode_field(value) for value in fields])

    def send_error(self, req_id: int, code: int, message: str, advanced_json: str = "") -> None:
        self.send(4, 2, req_id, code, message, advanced_json)

    def ids(self) -> list[str]:
        return [message[0] for message in self.messages]

    def take(self) -> list[list[str]]:
        taken, self.messages = self.messages, []
        return taken


class World:
    def __init__(self, as_of: datetime, golden_market_order: list[str]) -> None:
        self._golden = golden_market_order
        clock = SimClock(as_of)
        self.catalogue = Catalogue(clock)
        self.market = Market(self.catalogue, clock, seed=5)
        self.desk = Desk(
            clock=clock, catalogue=self.catalogue, market=self.market, accounts=[ACCOUNT]
        )
        self.mes: Instrument = next(i for i in self.catalogue.listed() if i.symbol == "MES")

    def place_fields(
        self, order_id: int, action: str, order_type: str, price: str = ""
    ) -> list[str]:
        """A placeOrder as ib_insync writes it at v176, for this world's MES contract."""
        fields = list(self._golden)
        fields[1], fields[2] = str(order_id), str(self.mes.con_id)
        fields[16], fields[18], fields[19] = action, order_type, price
        return fields

    def send(self, link: RecordingLink, *fields: str) -> None:
        self.desk.handlers()[int(fields[0])](link, list(fields))


@pytest.fixture
async def world(as_of: datetime, golden_market_order: list[str]) -> AsyncIterator[World]:
    built = World(as_of, golden_market_order)
    yield built
    built.desk.close()
    built.market.close()


async def test_connect_sync_with_empty_state_ends_every_request(world: World) -> None:
    link = RecordingLink(7)
    world.desk.attach(link)
    assert world.desk.next_order_id() == 1
    world.send(link, "61", "1")
    world.send(link, "5", "1")
    world.send(link, "99", "0")
    world.send(link, "6", "2", "1", ACCOUNT)
    world.send(link, "76", "1", "3", ACCOUNT, "", "0")
    world.send(link, "7", "3", "4", "0", "", "", "", "", "", "")
    world.send(link, "62", "1", "5", "All", "NetLiquidation,BuyingPower")
    ids = link.ids()
    for end in ("62", "53", "102", "54", "74", "55", "64"):
        assert end in ids
    assert ids.index("54") > max(i for i, msg in enumerate(ids) if msg == "6")
    assert ["54", "1", ACCOUNT] in link.messages
    assert ["74", "1", "3"] in link.messages
    assert ["55", "1", "4"] in link.messages
    summary = [m for m in link.messages if m[0] == "63"]
    assert [m[4] for m in summary] == ["NetLiquidation", "BuyingPower"]
    assert ["64", "1", "5"] in link.messages


async def test_fill_is_reported_in_the_order_clients_rely_on(world: World) -> None:
    owner, watcher = RecordingLink(7), RecordingLink(8)
    for link in (owner, watcher):
        world.desk.attach(link)
    world.send(watcher, "61", "1")
    world.send(owner, "6", "2", "1", ACCOUNT)
    owner.take()
    watcher.take()
    world.send(owner, *world.place_fields(1, "BUY", "MKT"))
    ids = owner.ids()
    assert ids[:6] == ["5", "3", "11", "5", "3", "59"]
    assert ids[6] == "7"  # then portfolio and account values to the account subscriber
    assert "6" in ids[7:]
    assert owner.messages[0][24] == "7"  # openOrder echoes the owner's clientId
    assert owner.messages[2][1] == "-1"  # a live execution
    assert world.desk.next_order_id() == 2
    # the other connection hears only the position (it subscribed to positions)
    assert watcher.ids() == ["61"]
    assert watcher.messages[0][2] == ACCOUNT


async def test_cancel_reports_status_then_202_and_unknown_ids_10147(world: World) -> None:
    link = RecordingLink(7)
    world.desk.attach(link)
    far = str(world.market.quote(world.mes.con_id).bid - 100)
    world.send(link, *world.place_fields(4, "BUY", "LMT", far))
    assert link.ids() == ["5", "3"]
    assert world.market.is_held(world.mes.con_id)
    link.take()
    world.send(link, "4", "1", "4", "")
    assert link.messages == [
        link.messages[0],
        ["4", "2", "4", "202", "Order Canceled - reason:", ""],
    ]
    assert link.messages[0][:3] == ["3", "4", "Cancelled"]
    assert not world.market.is_held(world.mes.con_id)
    link.take()
    world.send(link, "4", "1", "99", "")
    assert link.messages == [
        ["4", "2", "99", "10147", "OrderId 99 that needs to be cancelled is not found.", ""]
    ]


async def test_orders_outlive_their_connection(world: World) -> None:
    link = RecordingLink(7)
    world.desk.attach(link)
    far = str(world.market.quote(world.mes.con_id).bid - 100)
    world.send(link, *world.place_fields(4, "BUY", "LMT", far))
    world.desk.detach(link)
    assert [o.order_id for o in world.desk.open_orders()] == [4]
    again = RecordingLink(7)
    world.desk.attach(again)
    world.send(again, "5", "1")
    assert again.ids() == ["5", "3", "53"]
    stranger = RecordingLink(9)
    world.desk.attach(stranger)
    world.send(stranger, "5", "1")
    assert stranger.ids() == ["53"]
    world.send(stranger, "16", "1")
    assert stranger.ids() == ["53", "5", "3", "53"]


@pytest.mark.expect_log_warnings
async def test_malformed_place_order_gets_320_and_is_not_recorded(world: World) -> None:
    link = RecordingLink(7)
    world.desk.attach(link)
    fields = world.place_fields(6, "BUY", "MKT")
    fields[17] = "lots"
    world.send(link, *fields)
    ((msg_id, _, req_id, code, message, _),) = link.messages
    assert (msg_id, req_id, code) == ("4", "6", "320")
    assert "totalQuantity must be a number" in message
    assert world.desk.received == []
