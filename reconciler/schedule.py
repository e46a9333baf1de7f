"""When each page is synced next, which pages go first, and how many run at once (pure; time passed in).

    policy = SchedulePolicy.from_settings(settings.reconciler, settings.graph.calls_per_second)
    due = policy.after_run(RunSignal(succeeded=True, new_activity=False, silent=False), quiet_runs=3, rand=0.4,
                           pages=10_000)
    slots = policy.parallel_pages(replicas=3, app_usage_percent=20.0)

The timer used to sync every page every `interval_s`, eight at a time: with thousands of pages that
falls behind without saying so. Now each page's next sync follows what its last one found:

- suspicious (the page is silent, or a later count showed the run found messages
  webhooks had missed): again within `urgent_s`, ahead of every other due page (`priority`);
- active (its newest conversation moved since the previous sync, the run failed, or webhooks were
  missed on the page within `gap_memory_s`): the base `interval_s`;
- quiet (nothing moved): kept at the base interval while the app's budget can look at every page
  once an interval; past that, the interval doubles with each quiet run in a row up to the time the
  budget needs to look at every page once (`quiet_bound_s`), and never past `max_interval_s`, so
  no page waits longer than that (plus one poll and its run) between two syncs. A webhook lost on
  a quiet page says nothing until the page's next look, so stretching is only spent when it must.

Jitter spreads the replicas. Parallelism follows the app's Graph call budget, shared by the live
replicas (`parallel_pages`), and shrinks as Meta's reported app usage nears 100%; `max_parallel_pages`
stays an upper bound per replica.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

from kernel.settings import ReconcilerSettings

PageClass = Literal["suspicious", "active", "quiet"]
URGENT, NORMAL = 1, 0  # pages.sync_priority: suspicious pages are leased first


@dataclass(frozen=True, slots=True)
class RunSignal:
    """What a finished run says about its page."""

    succeeded: bool
    new_activity: bool  # the newest listed conversation is newer than the previous watermark
    silent: bool  # the page's Graph activity leads its webhooks (reconciler.silence)
    recent_gaps: bool = False  # a run found messages webhooks had missed within `gap_memory_s`


@dataclass(frozen=True, slots=True)
class NextSync:
    in_s: float
    priority: int
    quiet_runs: int
    page_class: PageClass


class Leased(Protocol):
    @property
    def priority(self) -> int: ...

    @property
    def quiet_runs(self) -> int: ...


def page_class(lease: Leased) -> PageClass:
    """How a leased page was scheduled: first as suspicious, stretched as quiet, or at the base interval."""
    if lease.priority == URGENT:
        return "suspicious"
    return "quiet" if lease.quiet_runs > 0 else "active"


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    interval_s: float = 300.0
    max_interval_s: float = 3600.0  # a quiet page's interval grows to this at most: its max staleness
    urgent_s: float = 60.0
    gap_memory_s: float = 86_400.0  # a page that lost webhooks this recently is never stretched
    jitter: float = 0.1
    app_calls_per_second: float = 40.0  # the app's Graph budget, shared by every replica
    page_calls_per_second: float = 2.0  # one page's pace (its governor): what one run spends at most
    max_parallel_pages: int = 64  # per replica, whatever the budget allows
    slow_from_percent: float = 75.0  # Meta's reported app usage from which fewer pages run at once
    stretch_from_use: float = 0.75  # quiet pages stretch once one look at every page per interval needs more
    #                                 than this share of the app's budget (the rest is for active pages)

    @classmethod
    def from_settings(cls, settings: ReconcilerSettings, page_calls_per_second: float) -> SchedulePolicy:
        return cls(interval_s=settings.interval_s, max_interval_s=max(settings.max_interval_s, settings.interval_s),
                   urgent_s=min(settings.urgent_s, settings.interval_s), jitter=settings.jitter,
                   app_calls_per_second=settings.app_calls_per_second, page_calls_per_second=page_calls_per_second,
                   max_parallel_pages=settings.max_parallel_pages)

    def quiet_bound_s(self, pages: int) -> float:
        """How far a quiet page's interval may stretch when `pages` pages are active: the time the
        app's budget (its `stretch_from_use` share, one call a look) needs to look at each once,
        never below the base interval nor past `max_interval_s`."""
        round_s = pages / (self.app_calls_per_second * self.stretch_from_use)
        return min(self.max_interval_s, max(self.interval_s, round_s))

    def after_run(self, signal: RunSignal, quiet_runs: int, rand: float, pages: int) -> NextSync:
        """The next sync of a page whose run just ended, `pages` being active; `rand` in [0, 1) spreads
        replicas. A failed run is tried again after the base interval (its cause is usually Meta's,
        not the page's)."""
        if signal.silent:
            return NextSync(self._jittered(self.urgent_s, rand), URGENT, 0, "suspicious")
        if signal.new_activity or not signal.succeeded or signal.recent_gaps:
            return NextSync(self._jittered(self.interval_s, rand), NORMAL, 0, "active")
        bound = self.quiet_bound_s(pages)
        stretched = self.interval_s * 2.0 ** min(quiet_runs + 1, 30)
        # jitter may not push a quiet page past its bound; at the bound it spreads below it instead (by
        # dividing, so any jitter setting stays above zero), or every quiet page would come back exactly
        # one bound later and a burst would repeat forever
        in_s = bound / (1.0 + self.jitter * rand) if stretched >= bound else min(bound, self._jittered(stretched, rand))
        return NextSync(in_s, NORMAL, quiet_runs + 1, "quiet")

    def lost_webhooks_lately(self, since_gaps_s: float | None) -> bool:
        return since_gaps_s is not None and since_gaps_s < self.gap_memory_s

    def after_gaps(self, due_in_s: float) -> float:
        """A run's writes showed messages webhooks had missed: sync the page again soon."""
        return min(due_in_s, self.urgent_s)

    def parallel_pages(self, replicas: int, app_usage_percent: float) -> int:
        """Runs this replica may have at once: its share of the app's call budget in whole pages,
        fewer as Meta's app usage nears 100%, at least one."""
        share = self.app_calls_per_second / max(1, replicas)
        if app_usage_percent > self.slow_from_percent:
            left = max(0.0, 100.0 - app_usage_percent) / (100.0 - self.slow_from_percent)
            share *= left
        return max(1, min(self.max_parallel_pages, math.floor(share / self.page_calls_per_second)))

    def _jittered(self, seconds: float, rand: float) -> float:
        return seconds * (1.0 + self.jitter * rand)
