"""What one archived record yields in a replay (pure): records to produce, or why it was skipped.

Nothing selected and nothing skipped means the record lies outside the selection (another time or
page): it is scanned and no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kernel.records import EventRecord


@dataclass(frozen=True, slots=True)
class Resend:
    """A dead letter that decodes today: its original key and value go back to the events topic."""

    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Outcome:
    events: Sequence[EventRecord] = field(default_factory=tuple)  # raw: today's parse, the selected pages
    resend: Resend | None = None  # dlq: the record to send back
    skipped: str | None = None  # why a record inside the window cannot be used (counted by reason)

    @property
    def matched(self) -> int:
        return len(self.events) + (self.resend is not None)


OUTSIDE = Outcome()
