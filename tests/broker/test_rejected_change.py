"""A change IB rejects while the order's cancel is on its way: the order ends cancelled, as IB
says, and stays so when the journal is reconciled after a sync (found by the fault campaign)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibconsole.journal import OrderState
from tests.broker.conftest import Rig
from tests.conftest import WaitFor


@pytest.mark.expect_log_warnings
async def test_a_change_rejected_after_the_cancel_left_ends_cancelled_also_after_a_resync(
    rig: Rig, wait_for: WaitFor
) -> None:
    intent = rig.intent(order_type="LMT", limit_price=rig.bid(-8))
    rig.broker.orders.submit(intent)
    await wait_for(lambda: rig.state(intent.key) is OrderState.WORKING)
    order_id = rig.row(intent.key).order_id
    # IB answers late: the change goes, then the cancel, before IB rejects the change.
    rig.gw.faults.delay_replies(0.2)
    rig.gw.faults.reject_next_order("Simulated reject")
    rig.broker.orders.modify(order_id, quantity=Decimal(2), limit_price=rig.bid(-6))
    rig.broker.orders.cancel(order_id)

    assert await rig.final(intent.key) is OrderState.CANCELLED
    await wait_for(lambda: rig.sim_status(intent.key) == "Cancelled", what="cancelled at IB")
    rig.gw.faults.delay_replies(0)
    # Every sync reconciles the journal with the session's view of the order.
    rig.broker.orders.reconcile()

    order = rig.journal.order(intent.key)
    assert order is not None
    assert order.state is OrderState.CANCELLED
    assert order.lifecycle.quantity == Decimal(1)
    rig.assert_agree()
