"""The one exception the journal raises: bad input, an unusable file, or a failed write."""

from __future__ import annotations


class JournalError(Exception):
    """The journal refused a request; the message names the order, field or file at fault.

    Nothing of the refused request is written: every record is one transaction.
    """
