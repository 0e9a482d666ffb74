"""The one exception the journal raises: bad input, an unusable file, or a failed write."""

from __future__ import annotations


class JournalError(Exception):
    """The journal refused a request; the message names the order, field or file at fault.

    Nothing of the refused request is written: every record is one transaction.
    """


class ExecutionConflict(JournalError):
    """An execution id already journalled for one order arrived for another.

    Unlike other ``JournalError``s this one is raised after writing: the execution is journalled
    beside the second order (``Journal.execution_conflicts``) so that no fill is ever lost, and
    the message, naming both orders, is for the trader.
    """

    def __init__(self, exec_id: str, journalled_for: str, reported_for: str) -> None:
        super().__init__(
            f"Execution {exec_id} was reported for order {reported_for}, but it is journalled "
            f"for order {journalled_for}. Both are kept in the journal: check both orders' fills "
            "in TWS before trading them further."
        )
        self.exec_id = exec_id
        self.journalled_for = journalled_for
        self.reported_for = reported_for
