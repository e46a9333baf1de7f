"""Retry budgets and backoff delays."""

from __future__ import annotations

import pytest

from reconciler.classify import Verdict
from reconciler.retry import Attempts, RetryPolicy

POLICY = RetryPolicy(transient_attempts=3, throttle_attempts=2, base_s=1.0, cap_s=8.0)


@pytest.mark.parametrize(("attempt", "rand", "delay"), [(1, 0.0, 0.5), (1, 0.999, 0.9995), (3, 0.5, 3.0),
                                                        (10, 1.0, 8.0)])
def test_backoff_is_exponential_with_equal_jitter_and_capped(attempt: int, rand: float, delay: float) -> None:
    assert POLICY.backoff_s(attempt, rand) == pytest.approx(delay)


def test_budgets_are_counted_per_kind() -> None:
    attempts = Attempts()
    for _ in range(2):
        attempts = attempts.after(Verdict("transient"))
    assert not attempts.exhausted(POLICY)
    attempts = attempts.after(Verdict("throttled")).after(Verdict("throttled"))
    assert attempts.exhausted(POLICY)


def test_limit_halves_down_to_the_minimum() -> None:
    assert [POLICY.smaller_limit(n) for n in (100, 3, 2, 1)] == [50, 1, 1, None]
