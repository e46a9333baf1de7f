"""A dead letter in a replay (pure): decode and map it again with today's code.

A record that decodes and maps now goes back to the events topic with its original key and value;
one that still fails is skipped and counted by its error. A record PostgreSQL refused
(`sqlstate` header) maps fine and is sent back: if the database refuses it again, the writer
dead-letters it again, as a new dead letter. Its time is when it was dead-lettered (the record's
timestamp); its page is the one its value names, so a dead letter that does not decode matches a
replay of every page only.
"""

from __future__ import annotations

from consumers.decoding import rows_of
from kernel.records import RecordError, decode
from replay.outcome import OUTSIDE, Outcome, Resend
from replay.window import Selection

_REASON_CHARS = 120


def from_dead_letter(key: bytes | None, value: bytes | None, timestamp_ms: int, selection: Selection) -> Outcome:
    if not selection.wants_time(timestamp_ms):
        return OUTSIDE
    try:
        page_id = decode(value).page_id
    except RecordError as exc:
        return OUTSIDE if selection.pages else Outcome(skipped=_reason(exc))
    if not selection.wants_page(page_id):
        return OUTSIDE
    try:
        rows_of(value)
    except RecordError as exc:
        return Outcome(skipped=_reason(exc))
    return Outcome(resend=Resend(key, value))


def _reason(exc: RecordError) -> str:
    """The error, short enough to count by (details such as offsets vary little in these messages)."""
    return str(exc)[:_REASON_CHARS]
