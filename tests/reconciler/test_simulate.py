"""The schedule in virtual time (reconciler.simulate), at a scale a test affords: the same decision code
as production, numbers instead of sleeps. bench/schedule.py runs 10,000 pages."""

from __future__ import annotations

import dataclasses

from reconciler.schedule import SchedulePolicy
from reconciler.simulate import FixedSchedule, SimConfig, simulate

# Twice the pages the old timer could keep at its interval (8 at a time, ticking every 5 s).
CONFIG = SimConfig(pages=2_000, replicas=2, hours=3.0, seed=7)


def test_the_old_timer_falls_behind_and_the_adaptive_schedule_keeps_every_bound() -> None:
    before = simulate(dataclasses.replace(CONFIG, wake_on_finish=False), FixedSchedule())
    adaptive = simulate(CONFIG, SchedulePolicy())
    assert before.pages_past_max_staleness > CONFIG.pages // 2  # what issue 21 found, measured
    assert adaptive.pages_past_max_staleness == 0
    assert adaptive.throttled_minutes == 0
    suspicious, active, quiet = (adaptive.staleness_by_class[k] for k in ("suspicious", "active", "quiet"))
    assert suspicious[0] > 0 and suspicious[2] <= 2 * 60  # silent and lossy pages come back within minutes
    assert active[2] <= 300 * 1.1 + 2 * CONFIG.poll_s  # active pages keep their interval
    assert quiet[0] > active[0]  # most pages are quiet and cost less
    assert adaptive.known_gaps_within_interval == 1.0  # a page known to lose webhooks is never stretched


def test_with_budget_for_every_page_each_interval_every_lost_webhook_comes_back_within_one() -> None:
    adaptive = simulate(CONFIG, SchedulePolicy())  # 2,000 pages need 6.7 looks/s of a 40 calls/s budget
    assert adaptive.gaps > 0 and adaptive.gaps_within_interval == 1.0
    assert adaptive.pages_past_max_staleness == 0 and adaptive.throttled_minutes == 0


def test_a_budget_short_of_every_page_each_interval_stretches_quiet_pages_and_keeps_the_bound() -> None:
    fixed = simulate(CONFIG, FixedSchedule())
    short = SchedulePolicy(app_calls_per_second=5.0)  # 3.75 looks/s: quiet pages stretch to 533 s
    adaptive = simulate(CONFIG, short)
    assert fixed.pages_past_max_staleness == 0
    assert adaptive.pages_past_max_staleness == 0 and adaptive.throttled_minutes == 0
    assert adaptive.calls_per_hour < 0.75 * fixed.calls_per_hour
    quiet = adaptive.staleness_by_class["quiet"]
    assert 300 * 1.1 < quiet[2] <= short.quiet_bound_s(CONFIG.pages) + 2 * CONFIG.poll_s
    assert adaptive.known_gaps_within_interval == 1.0  # a page known to lose webhooks is never stretched


def test_parallelism_stays_within_the_app_budget_however_many_replicas() -> None:
    policy = SchedulePolicy(app_calls_per_second=10.0)
    for replicas in (1, 3):
        report = simulate(dataclasses.replace(CONFIG, replicas=replicas, hours=1.0), policy)
        assert report.mean_parallel <= 10.0 / 2.0 + 0.01  # 2 calls/s per page
        assert report.throttled_minutes == 0


def test_the_simulation_is_deterministic_for_a_seed() -> None:
    small = dataclasses.replace(CONFIG, pages=300, hours=0.5)
    assert simulate(small, SchedulePolicy()) == simulate(small, SchedulePolicy())
