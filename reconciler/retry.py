"""How long to wait before the next attempt, and when to give up (pure; randomness passed in).

Transient failures back off exponentially with "equal jitter" (half fixed, half random) so replicas
do not retry in step; throttles wait what Meta said and count against their own, larger budget;
"too much data" halves the page size down to `min_limit`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.classify import Verdict


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    transient_attempts: int = 5
    throttle_attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0
    max_throttle_wait_s: float = 3600.0
    min_limit: int = 1

    def backoff_s(self, attempt: int, rand: float) -> float:
        """Delay before retry number `attempt` (1-based) of a transient failure; rand in [0, 1)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + rand * ceiling / 2

    def smaller_limit(self, limit: int) -> int | None:
        """The next page size to ask for after "reduce the amount of data", or None: give up."""
        return None if limit <= self.min_limit else max(self.min_limit, limit // 2)


@dataclass(frozen=True, slots=True)
class Attempts:
    """Failures so far of one request, by kind."""

    transient: int = 0
    throttled: int = 0

    def after(self, verdict: Verdict) -> Attempts:
        if verdict.kind == "throttled":
            return Attempts(self.transient, self.throttled + 1)
        if verdict.kind == "transient":
            return Attempts(self.transient + 1, self.throttled)
        return self

    def exhausted(self, policy: RetryPolicy) -> bool:
        return self.transient >= policy.transient_attempts or self.throttled >= policy.throttle_attempts
