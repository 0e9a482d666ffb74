"""Append-only SQLite journal of every order intent, decision, submission, status and fill."""

from ibconsole.journal.csv_export import CSV_COLUMNS, export_csv
from ibconsole.journal.errors import ExecutionConflict, JournalError
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
    JournalEvent,
    ModificationRecorded,
    ReconciliationOutcome,
    ReconciliationRecorded,
    RejectionRecorded,
    StatusRecorded,
    SubmissionRecorded,
)
from ibconsole.journal.journal import Journal
from ibconsole.journal.lifecycle import (
    FINAL_STATES,
    FillPart,
    OrderLifecycle,
    OrderState,
    apply,
    derive,
    exec_base,
)
from ibconsole.journal.location import default_journal_path
from ibconsole.journal.schema import SCHEMA_VERSION
from ibconsole.journal.settings_changes import SettingChange, SettingsChanged
from ibconsole.journal.snapshots import JournalFill, JournalOrder

__all__ = [
    "CSV_COLUMNS",
    "FINAL_STATES",
    "SCHEMA_VERSION",
    "BrokerStatus",
    "CancelRequested",
    "CommissionRecorded",
    "Decision",
    "DecisionRecorded",
    "EventKind",
    "EventPayload",
    "ExecutionConflict",
    "ExecutionConflictRecorded",
    "FillPart",
    "FillRecorded",
    "IntentRecorded",
    "Journal",
    "JournalError",
    "JournalEvent",
    "JournalFill",
    "JournalOrder",
    "ModificationRecorded",
    "OrderLifecycle",
    "OrderState",
    "ReconciliationOutcome",
    "ReconciliationRecorded",
    "RejectionRecorded",
    "SettingChange",
    "SettingsChanged",
    "StatusRecorded",
    "SubmissionRecorded",
    "apply",
    "default_journal_path",
    "derive",
    "exec_base",
    "export_csv",
]
