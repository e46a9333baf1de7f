"""The per-page token bucket and the usage percentages it reports (clock passed in: no sleeping)."""

from __future__ import annotations

import json

from emulator.limits import PageBudget, TokenBucket, Usage, app_usage_header, buc_header


def test_bucket_allows_burst_then_throttles_then_refills() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=2.0, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0)
    assert not bucket.take(0.0)
    assert not bucket.take(0.49)
    assert bucket.take(0.5)


def test_a_client_at_the_rate_is_never_throttled() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=2.0, now=0.0)
    assert all(bucket.take(n * 0.5) for n in range(1000))


def test_a_client_above_the_rate_is_throttled_for_the_excess() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=2.0, now=0.0)
    allowed = sum(bucket.take(n * 0.25) for n in range(400))  # 4 calls/s for 100 s
    assert allowed == 201  # burst 2 + 2/s x 99.75 s (the last call) = 201.5, whole calls only


def test_usage_percent_and_regain_time() -> None:
    budget = PageBudget.create(rate=2.0, burst=2.0, work_per_second=100.0, now=0.0)
    assert budget.usage(0.0).call_count == 0
    budget.calls.take(0.0)
    assert budget.usage(0.0).call_count == 50
    budget.calls.take(0.0)
    usage = budget.usage(0.0)
    assert usage.call_count == 100 and usage.regain_minutes == 1
    assert budget.usage(1.0) == Usage(0, 0, 0, 0)


def test_slow_refill_reports_minutes_rounded_up() -> None:
    budget = PageBudget.create(rate=1 / 600, burst=1.0, work_per_second=100.0, now=0.0)
    budget.calls.take(0.0)
    assert budget.usage(0.0).regain_minutes == 10


def test_work_drives_total_time() -> None:
    budget = PageBudget.create(rate=2.0, burst=2.0, work_per_second=10.0, now=0.0)
    budget.work.charge(0.0, 50)  # half of the 100-unit work bucket
    usage = budget.usage(0.0)
    assert usage.total_time == 50 and 0 < usage.total_cputime < usage.total_time


def test_headers_are_meta_shaped_json() -> None:
    usages = {"123": Usage(40, 10, 12, 0), "456": Usage(100, 20, 30, 1)}
    buc = json.loads(buc_header(usages))
    assert buc["456"] == [
        {
            "type": "pages",
            "call_count": 100,
            "total_cputime": 20,
            "total_time": 30,
            "estimated_time_to_regain_access": 1,
        }
    ]
    assert json.loads(app_usage_header(usages)) == {"call_count": 100, "total_cputime": 20, "total_time": 30}
