"""The admin credential check's pure parts: failed attempts per client in a sliding window."""

from __future__ import annotations

import pytest

from kernel.bearer import FailedAuth, fingerprint
from kernel.settings import Secret

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_held_off_after_its_limit_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    failures = FailedAuth(limit=3, window_s=60.0, clock=clock)
    for _ in range(3):
        assert failures.retry_after_s("10.0.0.1") == 0.0
        failures.failed("10.0.0.1")
        clock.now += 1.0
    assert failures.retry_after_s("10.0.0.1") == pytest.approx(57.0)
    assert failures.retry_after_s("10.0.0.2") == 0.0  # per client
    clock.now += 57.0
    assert failures.retry_after_s("10.0.0.1") == 0.0


def test_the_table_of_clients_is_bounded() -> None:
    failures = FailedAuth(limit=1, max_clients=100, clock=Clock())
    for n in range(1000):
        failures.failed(f"10.0.{n // 256}.{n % 256}")
    assert failures.retry_after_s("10.0.3.231") > 0  # the newest are remembered
    assert failures.retry_after_s("10.0.0.0") == 0.0  # the oldest forgotten
    assert len(failures._failures) == 100


def test_a_fingerprint_tells_tokens_apart_and_shows_nothing_of_them() -> None:
    a, b = fingerprint(Secret("token-a-1234567890")), fingerprint(Secret("token-b-1234567890"))
    assert a != b and len(a) == 8 and "token" not in a
