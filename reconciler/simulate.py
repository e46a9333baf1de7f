"""The timer's schedule played in virtual time over many pages, with the decision code production uses.

    report = simulate(SimConfig(pages=10_000, replicas=3, hours=6), SchedulePolicy(...))

Pages have heavy-tailed activity (a Pareto draw: most pages see a message every few hours, a few see
hundreds an hour); a share of them lose webhooks. Each replica ticks every `poll_s`, takes its share
of the app's call budget (`parallel_pages`), leases due pages (suspicious first, then the longest
due; a quiet page that a webhook showed active is due one interval after that webhook) and runs
them: one listing call per `page_size` changed conversations, paced at Meta's per-page rate. When a
run ends, `after_run` schedules the page's next sync; messages found that webhooks lost pull it
forward (`after_gaps`). Meta's side is modelled too: the app's calls per minute against its limit
(a minute over it is a throttle) and the usage it would report.

Pure and deterministic for a seed (no I/O, no sleeping): `bench/schedule.py` runs it at full scale,
`tests/reconciler/test_simulate.py` at a small one. `FixedSchedule` is the timer before: every page
every interval, `max_parallel_pages` at once.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.schedule import NORMAL, URGENT, NextSync, PageClass, RunSignal, SchedulePolicy


class Policy(Protocol):
    @property
    def interval_s(self) -> float: ...

    @property
    def max_interval_s(self) -> float: ...

    @property
    def jitter(self) -> float: ...

    def lost_webhooks_lately(self, since_gaps_s: float | None) -> bool: ...

    def after_run(self, signal: RunSignal, quiet_runs: int, rand: float, pages: int) -> NextSync: ...

    def after_gaps(self, due_in_s: float) -> float: ...

    def parallel_pages(self, replicas: int, app_usage_percent: float) -> int: ...


@dataclass(frozen=True, slots=True)
class FixedSchedule:
    """The timer before issue 21: every page every `interval_s` (plus jitter), a fixed number at once."""

    interval_s: float = 300.0
    jitter: float = 0.1
    max_parallel_pages: int = 8

    @property
    def max_interval_s(self) -> float:
        return self.interval_s * (1.0 + self.jitter)

    def after_run(self, signal: RunSignal, quiet_runs: int, rand: float, pages: int) -> NextSync:
        return NextSync(self.interval_s * (1.0 + self.jitter * rand), NORMAL, 0, "active")

    def after_gaps(self, due_in_s: float) -> float:
        return due_in_s

    def lost_webhooks_lately(self, since_gaps_s: float | None) -> bool:
        return False

    def parallel_pages(self, replicas: int, app_usage_percent: float) -> int:
        return self.max_parallel_pages


@dataclass(frozen=True, slots=True)
class SimConfig:
    pages: int = 10_000
    replicas: int = 3
    hours: float = 6.0
    seed: int = 1
    poll_s: float = 5.0
    answer_s: float = 0.35  # Meta's answer time per call
    page_calls_per_second: float = 2.0  # Meta's per-page rate (the governor paces at it, 2% under)
    meta_app_calls_per_minute: float = 3000.0  # Meta's limit for the app: a minute over it throttles
    page_size: int = 100
    activity_median_per_hour: float = 0.5
    activity_pareto_alpha: float = 1.1
    activity_max_per_hour: float = 600.0
    lossy_share: float = 0.05  # pages that lose webhooks
    loss: float = 0.3  # the share of a lossy page's messages whose webhook is lost
    silence_threshold_s: float = 900.0
    gap_apply_s: float = 2.0  # from a run's end to the writer's count of its gaps
    wake_on_finish: bool = True  # a replica ticks when a run ends (False: only every poll, as before)


@dataclass(slots=True)
class SimPage:
    rate_per_s: float
    lossy: bool
    next_activity: float
    due: float
    priority: int = NORMAL
    quiet_runs: int = 0
    last_start: float = 0.0
    seen_newest: float = 0.0  # newest activity the last sync listed
    newest: float = 0.0  # newest activity on Meta's side
    newest_webhook: float = 0.0
    changed: int = 0  # activity since the last sync started
    first_webhook: float | None = None  # first delivered webhook since the last sync started
    lost: list[float] = field(default_factory=list)
    gaps_found_at: float | None = None
    running_until: float | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class SimReport:
    pages: int
    replicas: int
    hours: float
    syncs: int
    calls: int
    calls_per_hour: float
    throttled_minutes: int
    staleness_p50_s: float
    staleness_p99_s: float
    staleness_max_s: float
    staleness_by_class: dict[str, tuple[int, float, float]]  # class -> (syncs, p50, p99)
    pages_past_max_staleness: int
    max_staleness_s: float
    gaps: int
    gap_delay_p50_s: float
    gap_delay_p99_s: float
    gaps_within_interval: float  # share of lost messages recovered within one interval
    known_gaps_within_interval: float  # the same, on pages where a sync had found lost webhooks before
    mean_parallel: float


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _share_within(delays: list[float], bound: float) -> float:
    return sum(1 for d in delays if d <= bound) / len(delays) if delays else 1.0


class Simulation:
    def __init__(self, config: SimConfig, policy: Policy) -> None:
        self.c, self.policy = config, policy
        self.rng = random.Random(config.seed)
        self.pages = [self._page() for _ in range(config.pages)]
        self.heaps: dict[int, list[tuple[float, int, int]]] = {URGENT: [], NORMAL: []}
        for index, page in enumerate(self.pages):
            self._push(index)
        self.activity = [(p.next_activity, i) for i, p in enumerate(self.pages)]
        heapq.heapify(self.activity)
        self.running: list[list[tuple[float, int]]] = [[] for _ in range(config.replicas)]
        self.minute_calls: dict[int, int] = {}
        self.staleness: dict[str, list[float]] = {"suspicious": [], "active": [], "quiet": []}
        self.worst_gap_per_page = [0.0] * config.pages
        self.gap_delays: list[float] = []
        self.known_gap_delays: list[float] = []
        self.syncs = self.calls = 0
        self.parallel_samples: list[int] = []

    def _page(self) -> SimPage:
        c, rng = self.c, self.rng
        # Pareto with the configured median: x_m = median / 2^(1/alpha)
        scale = c.activity_median_per_hour / 2 ** (1 / c.activity_pareto_alpha)
        per_hour = min(c.activity_max_per_hour, scale / (1.0 - rng.random()) ** (1 / c.activity_pareto_alpha))
        rate = per_hour / 3600.0
        due = rng.random() * self.policy.interval_s  # steady state: the first syncs are behind us
        return SimPage(rate, rng.random() < c.lossy_share, rng.expovariate(rate), due)

    def _push(self, index: int) -> None:
        page = self.pages[index]
        page.version += 1
        due = page.due
        if page.quiet_runs > 0 and page.first_webhook is not None:
            due = min(due, page.first_webhook + self.policy.interval_s)
        heapq.heappush(self.heaps[page.priority], (due, index, page.version))

    def run(self) -> SimReport:
        """Each replica ticks every `poll_s`, and at once when one of its runs ends (as
        `reconcile_forever` wakes on a finished run), so a free slot does not wait for the next poll."""
        end = self.c.hours * 3600.0
        ticks = [(replica * self.c.poll_s / self.c.replicas, replica) for replica in range(self.c.replicas)]
        heapq.heapify(ticks)
        while ticks[0][0] < end:
            now, replica = heapq.heappop(ticks)
            self._activity_until(now)
            self._finish_runs(now, replica)
            self._tick(now, replica)
            ends = [done for done, _ in self.running[replica] if done > now and self.c.wake_on_finish]
            heapq.heappush(ticks, (min([now + self.c.poll_s, *ends]), replica))
        return self._report(end)

    def _activity_until(self, now: float) -> None:
        while self.activity and self.activity[0][0] <= now:
            at, index = heapq.heappop(self.activity)
            page = self.pages[index]
            page.newest, page.changed = at, page.changed + 1
            if page.lossy and self.rng.random() < self.c.loss:
                page.lost.append(at)
            else:
                page.newest_webhook = at
                if page.first_webhook is None:
                    page.first_webhook = at
                    if page.quiet_runs > 0 and page.running_until is None:
                        self._push(index)
            heapq.heappush(self.activity, (at + self.rng.expovariate(page.rate_per_s), index))

    def _tick(self, now: float, replica: int) -> None:
        minute = int(now // 60)
        recent = sum(self.minute_calls.get(m, 0) for m in (minute - 1, minute))
        usage = 100.0 * recent / (2 * self.c.meta_app_calls_per_minute)
        slots = self.policy.parallel_pages(self.c.replicas, usage)
        free = slots - len(self.running[replica])
        for index in self._due(now, free):
            self._start(index, now, replica)
        self.parallel_samples.append(len(self.running[replica]))

    def _due(self, now: float, limit: int) -> list[int]:
        chosen: list[int] = []
        for priority in (URGENT, NORMAL):
            heap = self.heaps[priority]
            while heap and len(chosen) < limit and heap[0][0] <= now:
                _, index, version = heapq.heappop(heap)
                page = self.pages[index]
                if version == page.version and page.running_until is None and page.priority == priority:
                    chosen.append(index)
        return chosen

    def _start(self, index: int, now: float, replica: int) -> None:
        page, c = self.pages[index], self.c
        page_class: PageClass = "suspicious" if page.priority == URGENT else "quiet" if page.quiet_runs else "active"
        if page.last_start > 0:
            gap = now - page.last_start
            self.staleness[page_class].append(gap)
            self.worst_gap_per_page[index] = max(self.worst_gap_per_page[index], gap)
        calls = 1 + page.changed // c.page_size
        pace = max(c.answer_s, 1.0 / (c.page_calls_per_second * 0.98))
        for k in range(calls):
            minute = int((now + k * pace) // 60)
            self.minute_calls[minute] = self.minute_calls.get(minute, 0) + 1
        done = now + (calls - 1) * pace + c.answer_s
        self.gap_delays.extend(now - t for t in page.lost)
        if page.gaps_found_at is not None:  # the page was known to lose webhooks
            self.known_gap_delays.extend(now - t for t in page.lost)
        found_gaps = bool(page.lost)
        since_gaps = None if page.gaps_found_at is None else now - page.gaps_found_at
        signal = RunSignal(True, page.newest > page.seen_newest,
                           page.newest - page.newest_webhook > c.silence_threshold_s,
                           self.policy.lost_webhooks_lately(since_gaps))
        page.last_start, page.seen_newest, page.changed, page.first_webhook, page.lost = now, page.newest, 0, None, []
        page.running_until = done
        self.running[replica].append((done, index))
        self.syncs, self.calls = self.syncs + 1, self.calls + calls
        decided = self.policy.after_run(signal, page.quiet_runs, self.rng.random(), c.pages)
        page.priority, page.quiet_runs, page.due = decided.priority, decided.quiet_runs, done + decided.in_s
        soon = self.policy.after_gaps(decided.in_s)
        if found_gaps and soon < decided.in_s:  # the writer counts them a moment after the run
            page.due, page.priority, page.quiet_runs = min(page.due, done + c.gap_apply_s + soon), URGENT, 0
        if found_gaps:
            page.gaps_found_at = done + c.gap_apply_s

    def _finish_runs(self, now: float, replica: int) -> None:
        still = []
        for done, index in self.running[replica]:
            if done <= now:
                self.pages[index].running_until = None
                self._push(index)
            else:
                still.append((done, index))
        self.running[replica] = still

    def _report(self, end: float) -> SimReport:
        every = [s for values in self.staleness.values() for s in values]
        for index, page in enumerate(self.pages):  # a page still waiting at the end counts its wait too
            if page.running_until is None:
                self.worst_gap_per_page[index] = max(self.worst_gap_per_page[index], end - page.last_start)
        bound = self.policy.max_interval_s + 2 * self.c.poll_s + 60.0
        interval = self.policy.interval_s * (1.0 + self.policy.jitter) + self.c.poll_s  # one interval, jittered
        return SimReport(
            pages=self.c.pages, replicas=self.c.replicas, hours=self.c.hours, syncs=self.syncs, calls=self.calls,
            calls_per_hour=self.calls / self.c.hours,
            throttled_minutes=sum(1 for n in self.minute_calls.values() if n > self.c.meta_app_calls_per_minute),
            staleness_p50_s=_quantile(every, 0.5), staleness_p99_s=_quantile(every, 0.99),
            staleness_max_s=max(every, default=0.0),
            staleness_by_class={k: (len(v), _quantile(v, 0.5), _quantile(v, 0.99)) for k, v in self.staleness.items()},
            pages_past_max_staleness=sum(1 for g in self.worst_gap_per_page if g > bound), max_staleness_s=bound,
            gaps=len(self.gap_delays), gap_delay_p50_s=_quantile(self.gap_delays, 0.5),
            gap_delay_p99_s=_quantile(self.gap_delays, 0.99),
            gaps_within_interval=_share_within(self.gap_delays, interval),
            known_gaps_within_interval=_share_within(self.known_gap_delays, interval),
            mean_parallel=sum(self.parallel_samples) / max(1, len(self.parallel_samples)) * self.c.replicas,
        )


def simulate(config: SimConfig, policy: Policy) -> SimReport:
    return Simulation(config, policy).run()

