"""The per-page rate governor: every Graph call for a page waits for its turn here.

Policy and state are pure (`GovernorPolicy`, `GovernorState`, the time passed in); `PageGovernor`
is the small async shell that sleeps until the reserved instant. The pace is a token bucket with a
burst of one (calls start at least `interval` apart), which is exactly "paced at the rate limit":
a walk whose responses come back faster than the interval runs at the floor with no idle time added,
because a reservation is taken from the previous *start*, not from the previous answer.

Meta's reported `call_count` stretches the interval as that budget fills (from `slow_from_percent` up
to `max_slowdown` times at 100%; the time budgets grow with answer size, not pace, see `usage`), and a throttle answer pauses the page for the time Meta named
(`estimated_time_to_regain_access`), shared by every caller of that page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from reconciler.usage import Usage

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GovernorPolicy:
    calls_per_second: float = 2.0
    headroom: float = 0.02  # pace this fraction under the limit: clocks and networks jitter
    slow_from_percent: float = 75.0
    max_slowdown: float = 4.0

    def interval_s(self, usage_percent: float) -> float:
        """Seconds between call starts at this reported usage."""
        base = 1.0 / (self.calls_per_second * (1.0 - self.headroom))
        if usage_percent <= self.slow_from_percent:
            return base
        share = min(1.0, (usage_percent - self.slow_from_percent) / (100.0 - self.slow_from_percent))
        return base * (1.0 + share * (self.max_slowdown - 1.0))


@dataclass(frozen=True, slots=True)
class GovernorState:
    next_start: float = 0.0  # the earliest instant the next call may start
    paused_until: float = 0.0
    usage_percent: float = 0.0

    def reserve(self, policy: GovernorPolicy, now: float, app_percent: float = 0.0) -> tuple[float, GovernorState]:
        """When the caller may start, and the state after it takes that slot. `app_percent`: the app's
        usage as any replica last saw it (`AppUsage`), which slows every page as it fills."""
        start = max(now, self.next_start, self.paused_until)
        return start, replace(self, next_start=start + policy.interval_s(max(self.usage_percent, app_percent)))

    def observe(self, usage: Usage) -> GovernorState:
        """Take the reported usage into the pace. The regain time is not a pause here: it only binds
        once Meta actually throttles (then `pause` applies it), while a successful answer that
        reports one (rounded up to whole minutes) would otherwise stall a page that is not blocked."""
        return replace(self, usage_percent=usage.percent)

    def pause(self, wait_s: float, now: float) -> GovernorState:
        return replace(self, paused_until=max(self.paused_until, now + wait_s))


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(slots=True)
class AppUsage:
    """Meta's report of the whole app's usage (`X-App-Usage`, the highest of its percentages): what
    this process saw last, and what the replicas share through PostgreSQL (`reconciler.replicas`)."""

    seen_percent: float | None = None  # from this process's own answers since the last share
    shared_percent: float = 0.0  # the newest report of any replica

    def observe(self, percent: float | None) -> None:
        if percent is not None:
            self.seen_percent = percent
            self.shared_percent = percent

    @property
    def percent(self) -> float:
        return self.shared_percent


@dataclass(slots=True)
class PageGovernor:
    """One page's pace, shared by every task calling for that page in this process."""

    policy: GovernorPolicy
    clock: Clock = time.monotonic
    sleep: Sleep = _sleep
    state: GovernorState = field(default_factory=GovernorState)
    app: AppUsage = field(default_factory=AppUsage)

    async def turn(self) -> None:
        """Wait until this caller may start its call (the slot is taken before sleeping)."""
        start, self.state = self.state.reserve(self.policy, self.clock(), self.app.percent)
        delay = start - self.clock()
        if delay > 0:
            await self.sleep(delay)

    def observe(self, usage: Usage | None) -> None:
        if usage is not None:
            self.state = self.state.observe(usage)

    def pause(self, wait_s: float) -> None:
        self.state = self.state.pause(wait_s, self.clock())


@dataclass(slots=True)
class Governors:
    """The registry: one `PageGovernor` per page id, created on first use."""

    policy: GovernorPolicy
    clock: Clock = time.monotonic
    sleep: Sleep = _sleep
    by_page: dict[str, PageGovernor] = field(default_factory=dict)
    app: AppUsage = field(default_factory=AppUsage)

    def for_page(self, page_id: str) -> PageGovernor:
        if page_id not in self.by_page:
            self.by_page[page_id] = PageGovernor(self.policy, self.clock, self.sleep, app=self.app)
        return self.by_page[page_id]
