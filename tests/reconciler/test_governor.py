"""The rate governor's decisions, with the time passed in (no sleeping)."""

from __future__ import annotations

import pytest

from reconciler.governor import GovernorPolicy, GovernorState, PageGovernor
from reconciler.usage import Usage

POLICY = GovernorPolicy(calls_per_second=2.0, headroom=0.0)


def test_calls_start_at_the_rate_and_no_later() -> None:
    state, starts = GovernorState(), []
    for now in [0.0, 0.1, 0.2, 5.0]:
        start, state = state.reserve(POLICY, now)
        starts.append(start)
    assert starts == [0.0, 0.5, 1.0, 5.0]


def test_a_slow_answer_adds_no_idle_time() -> None:
    start, state = GovernorState().reserve(POLICY, 0.0)
    start2, _ = state.reserve(POLICY, 0.3)  # the answer came back after 300 ms
    assert start2 == 0.5


def test_headroom_paces_slightly_under_the_limit() -> None:
    policy = GovernorPolicy(calls_per_second=2.0, headroom=0.02)
    assert policy.interval_s(0.0) == pytest.approx(0.5 / 0.98)


@pytest.mark.parametrize(("percent", "factor"), [(0, 1.0), (75, 1.0), (87.5, 2.5), (100, 4.0), (130, 4.0)])
def test_interval_stretches_as_usage_rises(percent: float, factor: float) -> None:
    assert POLICY.interval_s(percent) == pytest.approx(0.5 * factor)


def test_usage_slows_but_only_a_throttle_pauses() -> None:
    state = GovernorState().observe(Usage(100.0, 60.0))
    start, state = state.reserve(POLICY, 11.0)
    assert start == 11.0 and state.next_start == 13.0
    start, _ = state.pause(60.0, now=11.5).reserve(POLICY, 12.0)
    assert start == 71.5


def test_pause_never_shortens() -> None:
    state = GovernorState().pause(100.0, now=0.0).pause(5.0, now=1.0)
    assert state.paused_until == 100.0


async def test_page_governor_sleeps_until_its_slot() -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    governor = PageGovernor(POLICY, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(3):
        await governor.turn()
    governor.pause(10.0)
    await governor.turn()
    assert slept == [0.5, 0.5, 10.0]
