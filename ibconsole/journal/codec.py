"""JSON text for event payloads, order intents and lifecycles, lossless for Decimals and time zones.

Decimals travel as strings (never floats) and instants as UTC ISO-8601 with microseconds, a
fixed-width form that sorts as text; a contract's last trade time also keeps its zone name.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibconsole.domain.contracts import ListedContract, OptionRight, OptionTerms, PriceIncrement
from ibconsole.domain.orders import (
    Bracket,
    OrderIntent,
    OrderType,
    Purpose,
    Side,
    SpreadLeg,
    TimeInForce,
)
from ibconsole.journal.errors import JournalError
from ibconsole.journal.events import (
    BrokerStatus,
    CancelRequested,
    CommissionRecorded,
    Decision,
    DecisionRecorded,
    EventKind,
    EventPayload,
    ExecutionConflictRecorded,
    FillRecorded,
    IntentRecorded,
    ModificationRecorded,
    ReconciliationOutcome,
    ReconciliationRecorded,
    RejectionRecorded,
    StatusRecorded,
    SubmissionRecorded,
)
from ibconsole.journal.lifecycle import FillPart, OrderLifecycle, OrderState

JsonObject = dict[str, Any]


def utc_text(instant: datetime) -> str:
    """``instant`` as fixed-width UTC ISO text; raises ``JournalError`` for a naive datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise JournalError(
            f"the time {instant.isoformat()} has no time zone; the journal needs UTC"
        )
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _option_object(contract: ListedContract) -> JsonObject:
    """An option's right, strike and underlying, and its market rule; nothing for a future."""
    terms = contract.option
    if terms is None:
        return {}
    return {
        "option": {
            "right": terms.right.value,
            "strike": str(terms.strike),
            "underlying_con_id": terms.underlying_con_id,
        },
        "price_increments": [
            [str(p.low_edge), str(p.increment)] for p in contract.price_increments
        ],
    }


def _option_terms(data: Any) -> OptionTerms | None:
    if data is None:
        return None
    return OptionTerms(
        OptionRight(data["right"]), Decimal(data["strike"]), data["underlying_con_id"]
    )


def _contract_object(contract: ListedContract) -> JsonObject:
    zone = contract.last_trade.tzinfo
    return {
        "symbol": contract.symbol,
        "local_symbol": contract.local_symbol,
        "con_id": contract.con_id,
        "contract_month": contract.contract_month,
        "last_trade": contract.last_trade.isoformat(),
        "last_trade_zone": zone.key if isinstance(zone, ZoneInfo) else None,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "multiplier": str(contract.multiplier),
        "min_tick": str(contract.min_tick),
        "trading_class": contract.trading_class,
        **_option_object(contract),
    }


def _contract_from_object(c: JsonObject) -> ListedContract:
    last_trade = datetime.fromisoformat(c["last_trade"])
    if c["last_trade_zone"] is not None:
        # Without the zone database the stored offset still pins the instant exactly.
        with contextlib.suppress(ZoneInfoNotFoundError):
            last_trade = last_trade.astimezone(ZoneInfo(c["last_trade_zone"]))
    return ListedContract(
        symbol=c["symbol"],
        local_symbol=c["local_symbol"],
        con_id=c["con_id"],
        contract_month=c["contract_month"],
        last_trade=last_trade,
        exchange=c["exchange"],
        currency=c["currency"],
        multiplier=Decimal(c["multiplier"]),
        min_tick=Decimal(c["min_tick"]),
        trading_class=c["trading_class"],
        # Orders journalled before options were traded carry no option keys: futures.
        option=_option_terms(c.get("option")),
        price_increments=tuple(
            PriceIncrement(Decimal(edge), Decimal(step))
            for edge, step in c.get("price_increments", ())
        ),
    )


def _intent_object(intent: OrderIntent) -> JsonObject:
    bracket = intent.bracket
    return {
        "key": intent.key,
        "contract": _contract_object(intent.contract),
        "side": intent.side.value,
        "quantity": str(intent.quantity),
        "order_type": intent.order_type.value,
        "limit_price": _dec(intent.limit_price),
        "stop_price": _dec(intent.stop_price),
        "tif": intent.tif.value,
        "bracket": (
            None
            if bracket is None
            else {"take_profit": _dec(bracket.take_profit), "stop_loss": _dec(bracket.stop_loss)}
        ),
        "created_at": utc_text(intent.created_at),
        "purpose": intent.purpose.value,
        "account": intent.account,
        "oca_group": intent.oca_group,
        "legs": [
            {"contract": _contract_object(leg.contract), "ratio": leg.ratio, "side": leg.side.value}
            for leg in intent.legs
        ],
    }


def _intent_from_object(data: JsonObject) -> OrderIntent:
    b = data["bracket"]
    return OrderIntent(
        key=data["key"],
        contract=_contract_from_object(data["contract"]),
        side=Side(data["side"]),
        quantity=Decimal(data["quantity"]),
        order_type=OrderType(data["order_type"]),
        limit_price=_undec(data["limit_price"]),
        stop_price=_undec(data["stop_price"]),
        tif=TimeInForce(data["tif"]),
        bracket=(
            None
            if b is None
            else Bracket(take_profit=_undec(b["take_profit"]), stop_loss=_undec(b["stop_loss"]))
        ),
        created_at=parse_utc(data["created_at"]),
        purpose=Purpose(data["purpose"]),
        account=data["account"],
        oca_group=data.get("oca_group", ""),  # journals written before OCA groups have none
        legs=tuple(
            SpreadLeg(_contract_from_object(leg["contract"]), leg["ratio"], Side(leg["side"]))
            for leg in data.get("legs", ())  # journals written before combos have none
        ),
    )


def _encode_payload_object(payload: EventPayload) -> JsonObject:
    match payload:
        case IntentRecorded(intent=intent, parent_key=parent_key):
            return {"intent": _intent_object(intent), "parent_key": parent_key}
        case DecisionRecorded(decision=decision, findings=findings):
            return {"decision": decision.value, "findings": list(findings)}
        case SubmissionRecorded(order_id=order_id, client_id=client_id, parent_key=parent_key):
            return {"order_id": order_id, "client_id": client_id, "parent_key": parent_key}
        case StatusRecorded():
            return {
                "status": payload.status.value,
                "filled": str(payload.filled),
                "remaining": str(payload.remaining),
                "avg_fill_price": _dec(payload.avg_fill_price),
                "perm_id": payload.perm_id,
            }
        case FillRecorded():
            return _fill_object(payload)
        case CommissionRecorded():
            return {
                "exec_id": payload.exec_id,
                "commission": str(payload.commission),
                "currency": payload.currency,
                "realized_pnl": _dec(payload.realized_pnl),
            }
        case CancelRequested(reason=reason):
            return {"reason": reason}
        case ModificationRecorded():
            return {
                "quantity": str(payload.quantity),
                "limit_price": _dec(payload.limit_price),
                "stop_price": _dec(payload.stop_price),
            }
        case RejectionRecorded(code=code, message=message):
            return {"code": code, "message": message}
        case ReconciliationRecorded(outcome=outcome, detail=detail):
            return {"outcome": outcome.value, "detail": detail}
        case ExecutionConflictRecorded(fill=fill, journalled_for=journalled_for):
            return {"fill": _fill_object(fill), "journalled_for": journalled_for}


def _fill_object(fill: FillRecorded) -> JsonObject:
    return {
        "exec_id": fill.exec_id,
        "con_id": fill.con_id,
        "side": fill.side.value,
        "quantity": str(fill.quantity),
        "price": str(fill.price),
        "time": utc_text(fill.time),
    }


def _fill_from_object(d: JsonObject) -> FillRecorded:
    return FillRecorded(
        d["exec_id"],
        d["con_id"],
        Side(d["side"]),
        Decimal(d["quantity"]),
        Decimal(d["price"]),
        parse_utc(d["time"]),
    )


_DECODERS: Mapping[EventKind, Callable[[JsonObject], EventPayload]] = {
    EventKind.INTENT: lambda d: IntentRecorded(_intent_from_object(d["intent"]), d["parent_key"]),
    EventKind.DECISION: lambda d: DecisionRecorded(Decision(d["decision"]), tuple(d["findings"])),
    EventKind.SUBMISSION: lambda d: SubmissionRecorded(
        d["order_id"], d["client_id"], d["parent_key"]
    ),
    EventKind.STATUS: lambda d: StatusRecorded(
        BrokerStatus(d["status"]),
        Decimal(d["filled"]),
        Decimal(d["remaining"]),
        _undec(d["avg_fill_price"]),
        d["perm_id"],
    ),
    EventKind.FILL: _fill_from_object,
    EventKind.COMMISSION: lambda d: CommissionRecorded(
        d["exec_id"], Decimal(d["commission"]), d["currency"], _undec(d["realized_pnl"])
    ),
    EventKind.CANCEL_REQUEST: lambda d: CancelRequested(d["reason"]),
    EventKind.MODIFICATION: lambda d: ModificationRecorded(
        Decimal(d["quantity"]), _undec(d["limit_price"]), _undec(d["stop_price"])
    ),
    EventKind.REJECTION: lambda d: RejectionRecorded(d["code"], d["message"]),
    EventKind.RECONCILIATION: lambda d: ReconciliationRecorded(
        ReconciliationOutcome(d["outcome"]), d["detail"]
    ),
    EventKind.EXECUTION_CONFLICT: lambda d: ExecutionConflictRecorded(
        _fill_from_object(d["fill"]), d["journalled_for"]
    ),
}


def _dumps(data: JsonObject) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode_intent(intent: OrderIntent) -> str:
    return _dumps(_intent_object(intent))


def encode_new_order(payload: IntentRecorded) -> tuple[str, str]:
    """``encode_payload(payload)`` and ``encode_intent(payload.intent)`` from one encoding of
    the intent: what a new order's event and its row hold."""
    intent = encode_intent(payload.intent)
    parent = json.dumps(payload.parent_key, ensure_ascii=False)
    return f'{{"intent":{intent},"parent_key":{parent}}}', intent


def decode_intent(text: str) -> OrderIntent:
    try:
        return _intent_from_object(json.loads(text))
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise JournalError(f"a journalled order intent is unreadable: {exc!r}") from exc


def encode_payload(payload: EventPayload) -> str:
    return _dumps(_encode_payload_object(payload))


def decode_payload(kind: str, text: str) -> EventPayload:
    try:
        return _DECODERS[EventKind(kind)](json.loads(text))
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise JournalError(f"a journal event of kind {kind!r} is unreadable: {exc!r}") from exc


def encode_lifecycle(lifecycle: OrderLifecycle) -> str:
    return _dumps(
        {
            "key": lifecycle.key,
            "con_id": lifecycle.con_id,
            "side": lifecycle.side.value,
            "quantity": str(lifecycle.quantity),
            "state": lifecycle.state.value,
            "updated_at": utc_text(lifecycle.updated_at),
            "parent_key": lifecycle.parent_key,
            "decision": None if lifecycle.decision is None else lifecycle.decision.value,
            "findings": list(lifecycle.findings),
            "order_id": lifecycle.order_id,
            "client_id": lifecycle.client_id,
            "perm_id": lifecycle.perm_id,
            "broker_status": (
                None if lifecycle.broker_status is None else lifecycle.broker_status.value
            ),
            "reported_filled": str(lifecycle.reported_filled),
            "reported_avg_price": _dec(lifecycle.reported_avg_price),
            "legs": [[con_id, side.value] for con_id, side in lifecycle.legs],
            "fills": [
                {
                    "exec_id": p.exec_id,
                    "leg": p.leg,
                    "quantity": str(p.quantity),
                    "price": str(p.price),
                    "commission": _dec(p.commission),
                    "currency": p.currency,
                    "realized_pnl": _dec(p.realized_pnl),
                }
                for p in lifecycle.fills
            ],
            "cancel_requested": lifecycle.cancel_requested,
            "cancel_reason": lifecycle.cancel_reason,
            "rejection": lifecycle.rejection,
            "reconciliation": (
                None if lifecycle.reconciliation is None else lifecycle.reconciliation.value
            ),
        }
    )


def decode_lifecycle(text: str) -> OrderLifecycle:
    try:
        return _lifecycle_from_object(json.loads(text))
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise JournalError(
            f"a journalled order state is unreadable ({exc!r}); "
            "Journal.rebuild_projection() recomputes it from the events"
        ) from exc


def _lifecycle_from_object(d: JsonObject) -> OrderLifecycle:
    return OrderLifecycle(
        key=d["key"],
        con_id=d["con_id"],
        side=Side(d["side"]),
        quantity=Decimal(d["quantity"]),
        state=OrderState(d["state"]),
        updated_at=parse_utc(d["updated_at"]),
        parent_key=d["parent_key"],
        decision=None if d["decision"] is None else Decision(d["decision"]),
        findings=tuple(d["findings"]),
        order_id=d["order_id"],
        client_id=d["client_id"],
        perm_id=d["perm_id"],
        broker_status=None if d["broker_status"] is None else BrokerStatus(d["broker_status"]),
        reported_filled=Decimal(d["reported_filled"]),
        reported_avg_price=_undec(d["reported_avg_price"]),
        legs=tuple((int(con_id), Side(side)) for con_id, side in d.get("legs", ())),
        fills=tuple(
            FillPart(
                exec_id=p["exec_id"],
                leg=p.get("leg", False),
                quantity=Decimal(p["quantity"]),
                price=Decimal(p["price"]),
                commission=_undec(p["commission"]),
                currency=p["currency"],
                realized_pnl=_undec(p["realized_pnl"]),
            )
            for p in d["fills"]
        ),
        cancel_requested=d["cancel_requested"],
        cancel_reason=d["cancel_reason"],
        rejection=d["rejection"],
        reconciliation=(
            None if d["reconciliation"] is None else ReconciliationOutcome(d["reconciliation"])
        ),
    )
