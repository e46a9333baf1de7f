"""Batch, backoff and poison policies: decisions from numbers, the clock passed in."""

from __future__ import annotations

import pytest

from consumers.policy import Backoff, BatchPolicy, PoisonPolicy
from kernel.settings import ConsumerSettings

POLICY = BatchPolicy(max_records=100, max_wait_s=0.2)


@pytest.mark.parametrize(("count", "first_at", "now", "ready"), [
    (0, None, 50.0, False),       # nothing yet: never ready, however long
    (1, 10.0, 10.1, False),       # young batch
    (1, 10.0, 10.25, True),       # waited long enough
    (100, 10.0, 10.0, True),      # full
    (99, 10.0, 10.19, False),
])
def test_batch_ready(count: int, first_at: float | None, now: float, ready: bool) -> None:
    assert POLICY.ready(count, first_at, now) is ready


def test_poll_timeout_shrinks_to_the_deadline() -> None:
    assert POLICY.poll_timeout(None, 5.0) == 1.0
    assert POLICY.poll_timeout(10.0, 10.05) == pytest.approx(0.15)
    assert POLICY.poll_timeout(10.0, 11.0) == 0.0
    assert (POLICY.room(30), POLICY.room(130)) == (70, 0)


def test_policy_from_settings() -> None:
    assert BatchPolicy.from_settings(ConsumerSettings(batch_max_records=7, batch_max_wait_ms=50)) == BatchPolicy(7, 0.05)


def test_backoff_grows_and_caps() -> None:
    backoff = Backoff(initial_s=0.5, factor=2, max_s=3)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]


def test_poison_run_counts_consecutive_only() -> None:
    policy = PoisonPolicy(limit=2)
    assert policy.run_after(0, [True, True, False, True]) == (1, False)
    assert policy.run_after(1, [True]) == (2, False)
    assert policy.run_after(2, [True]) == (3, True)
    assert policy.run_after(0, [True, True, True, False]) == (0, True)  # passed the limit mid-batch
