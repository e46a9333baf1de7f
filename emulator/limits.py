"""Per-page rate limit (a token bucket) and the usage percentages Meta reports in headers.

Pure: every decision takes `now` (seconds, monotonic) as an argument, so tests need no sleeping.
A bucket holds `burst` calls and refills at `rate` calls per second; a call that finds it empty is
throttled. The reported `call_count` percentage is how full the bucket's debt is (100 = throttled),
and `estimated_time_to_regain_access` the minutes (rounded up) until one call is allowed again.
`total_time`/`total_cputime` come from a second bucket of work units (rendered objects), the way
Meta charges heavy calls more than light ones.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # capacity
    tokens: float
    stamp: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens if available; False means the call is throttled."""
        self._refill(now)
        if self.tokens + 1e-9 >= cost:
            self.tokens -= cost
            return True
        return False

    def charge(self, now: float, cost: float) -> None:
        """Spend unconditionally (may go negative): work already done must be paid for."""
        self._refill(now)
        self.tokens -= cost

    def used_percent(self, now: float) -> int:
        self._refill(now)
        if self.burst <= 0:
            return 100
        return max(0, min(100, math.ceil(100 * (self.burst - self.tokens) / self.burst)))

    def seconds_until(self, now: float, cost: float = 1.0) -> float:
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 or self.rate <= 0 else missing / self.rate

    def set_rate(self, rate: float, burst: float, now: float) -> None:
        self._refill(now)
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, burst)


@dataclass(frozen=True, slots=True)
class Usage:
    call_count: int
    total_cputime: int
    total_time: int
    regain_minutes: int

    def buc_entry(self) -> dict[str, object]:
        return {
            "type": "pages",
            "call_count": self.call_count,
            "total_cputime": self.total_cputime,
            "total_time": self.total_time,
            "estimated_time_to_regain_access": self.regain_minutes,
        }


@dataclass(slots=True)
class PageBudget:
    """The calls bucket and the work bucket of one page."""

    calls: TokenBucket
    work: TokenBucket

    @classmethod
    def create(cls, rate: float, burst: float, work_per_second: float, now: float) -> PageBudget:
        return cls(TokenBucket.full(rate, burst, now), TokenBucket.full(work_per_second, work_per_second * 10, now))

    def usage(self, now: float) -> Usage:
        work = self.work.used_percent(now)
        regain = math.ceil(self.calls.seconds_until(now) / 60)
        return Usage(self.calls.used_percent(now), max(0, work - work // 4), work, regain)


def buc_header(usages: dict[str, Usage]) -> str:
    """`X-Business-Use-Case-Usage`: JSON keyed by page id, each a list of one usage entry."""
    return json.dumps({page_id: [u.buc_entry()] for page_id, u in usages.items()}, separators=(",", ":"))


def app_usage_header(usages: dict[str, Usage]) -> str:
    """`X-App-Usage`: the busiest page stands in for the app-wide figures."""
    worst = max(usages.values(), key=lambda u: u.call_count, default=Usage(0, 0, 0, 0))
    body = {"call_count": worst.call_count, "total_cputime": worst.total_cputime, "total_time": worst.total_time}
    return json.dumps(body, separators=(",", ":"))
