"""The consumer's policies as data; every decision is a pure method with the clock passed in.

- `BatchPolicy`: a batch is ready at `max_records`, or `max_wait_s` after its first record.
- `Backoff`: delays between attempts to write a batch while the database fails.
- `PoisonPolicy`: how many undecodable records in a row are tolerated before the consumer stops
  instead of dead-lettering the whole topic (a producer bug, a wrong topic, a schema change).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernel.settings import ConsumerSettings


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_records: int
    max_wait_s: float

    @classmethod
    def from_settings(cls, settings: ConsumerSettings) -> BatchPolicy:
        return cls(settings.batch_max_records, settings.batch_max_wait_ms / 1000)

    def ready(self, count: int, first_at: float | None, now: float) -> bool:
        """Full, or holding records for `max_wait_s` already."""
        if count >= self.max_records:
            return True
        return first_at is not None and count > 0 and now - first_at >= self.max_wait_s

    def poll_timeout(self, first_at: float | None, now: float, idle_s: float = 1.0) -> float:
        """How long the next poll may block: until the batch is due, or `idle_s` while it is empty."""
        if first_at is None:
            return idle_s
        return max(0.0, self.max_wait_s - (now - first_at))

    def room(self, count: int) -> int:
        return max(0, self.max_records - count)


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 0.2
    factor: float = 2.0
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1-based): exponential, capped."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))


@dataclass(frozen=True, slots=True)
class PoisonPolicy:
    limit: int

    def run_after(self, running: int, poisoned: Iterable[bool]) -> tuple[int, bool]:
        """The consecutive-poison run after these records (in order), and whether it ever passed the limit."""
        exceeded = False
        for bad in poisoned:
            running = running + 1 if bad else 0
            exceeded = exceeded or running > self.limit
        return running, exceeded
