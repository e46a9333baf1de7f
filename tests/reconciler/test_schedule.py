"""The schedule's decisions, with numbers (reconciler.schedule is pure)."""

from __future__ import annotations

from dataclasses import dataclass

from kernel.settings import ReconcilerSettings
from reconciler.schedule import NORMAL, URGENT, RunSignal, SchedulePolicy, page_class

POLICY = SchedulePolicy(interval_s=300, max_interval_s=3600, urgent_s=60, jitter=0.1, app_calls_per_second=40,
                        page_calls_per_second=2, max_parallel_pages=64)
QUIET = RunSignal(succeeded=True, new_activity=False, silent=False)


MANY = 200_000  # more pages than 40 calls/s can look at once an hour: quiet pages stretch all the way


def test_a_quiet_page_stretches_its_interval_up_to_its_bound() -> None:
    intervals, quiet = [], 0
    for _ in range(8):
        due = POLICY.after_run(QUIET, quiet, rand=0.0, pages=MANY)
        intervals.append(due.in_s)
        quiet = due.quiet_runs
        assert (due.priority, due.page_class) == (NORMAL, "quiet")
    assert intervals == [600, 1200, 2400, 3600, 3600, 3600, 3600, 3600]
    assert 3600 / 1.1 < POLICY.after_run(QUIET, 10, rand=0.999, pages=MANY).in_s < 3600  # jitter stays below the bound
    wild = SchedulePolicy(jitter=1.5)  # the setting only asks for a positive number
    assert 3600 / 2.5 < wild.after_run(QUIET, 10, rand=0.999, pages=MANY).in_s < 3600  # and never reaches zero
    assert POLICY.after_run(QUIET, 10_000, rand=0.0, pages=MANY).in_s == 3600  # no overflow however long the streak


def test_quiet_pages_stretch_only_as_far_as_the_budget_needs_for_the_pages_there_are() -> None:
    # 40 calls/s, three quarters of it for looking at every page once: 30 pages a second
    assert POLICY.quiet_bound_s(pages=0) == 300 and POLICY.quiet_bound_s(pages=9_000) == 300
    assert POLICY.quiet_bound_s(pages=10_000) == 10_000 / 30
    assert POLICY.quiet_bound_s(pages=30_000) == 1_000
    assert POLICY.quiet_bound_s(pages=MANY) == 3600  # never past the maximum staleness
    for quiet_runs in (0, 1, 5):
        for rand in (0.0, 0.999):
            kept = POLICY.after_run(QUIET, quiet_runs, rand, pages=500)
            assert 300 / 1.1 < kept.in_s <= 300 and (kept.page_class, kept.quiet_runs) == ("quiet", quiet_runs + 1)
            assert POLICY.after_run(QUIET, quiet_runs, rand, pages=30_000).in_s <= 1_000
    assert POLICY.after_run(QUIET, 5, rand=0.0, pages=30_000).in_s == 1_000


def test_activity_and_failures_come_back_at_the_base_interval_and_silence_first() -> None:
    active = POLICY.after_run(RunSignal(True, True, False), quiet_runs=5, rand=0.5, pages=MANY)
    assert (active.in_s, active.priority, active.quiet_runs, active.page_class) == (315, NORMAL, 0, "active")
    failed = POLICY.after_run(RunSignal(False, False, False), quiet_runs=5, rand=0.0, pages=MANY)
    assert (failed.in_s, failed.quiet_runs) == (300, 0)
    silent = POLICY.after_run(RunSignal(True, False, True), quiet_runs=5, rand=0.0, pages=MANY)
    assert (silent.in_s, silent.priority, silent.page_class) == (60, URGENT, "suspicious")
    assert POLICY.after_gaps(3600) == 60 and POLICY.after_gaps(10) == 10


def test_parallelism_follows_the_app_budget_shared_by_the_replicas() -> None:
    assert POLICY.parallel_pages(replicas=1, app_usage_percent=0) == 20  # 40 calls/s at 2 per page
    assert POLICY.parallel_pages(replicas=3, app_usage_percent=0) == 6  # 13.3 calls/s each
    assert POLICY.parallel_pages(replicas=3, app_usage_percent=75) == 6
    assert POLICY.parallel_pages(replicas=1, app_usage_percent=90) == 8  # 40% of the budget left
    assert POLICY.parallel_pages(replicas=1, app_usage_percent=100) == 1  # never none: pages must move
    assert POLICY.parallel_pages(replicas=50, app_usage_percent=0) == 1
    capped = SchedulePolicy(app_calls_per_second=1000, max_parallel_pages=8)
    assert capped.parallel_pages(replicas=1, app_usage_percent=0) == 8


@dataclass
class Leased:
    priority: int
    quiet_runs: int


def test_a_leased_page_is_classed_by_how_it_was_scheduled() -> None:
    assert page_class(Leased(URGENT, 3)) == "suspicious"
    assert page_class(Leased(NORMAL, 3)) == "quiet"
    assert page_class(Leased(NORMAL, 0)) == "active"


def test_the_settings_give_a_coherent_policy() -> None:
    policy = SchedulePolicy.from_settings(ReconcilerSettings(interval_s=7200, max_interval_s=3600, urgent_s=900),
                                          page_calls_per_second=2)
    assert policy.max_interval_s == 7200 and policy.urgent_s == 900  # the bound is never below the interval
    assert SchedulePolicy.from_settings(ReconcilerSettings(interval_s=30, urgent_s=60), 2).urgent_s == 30
