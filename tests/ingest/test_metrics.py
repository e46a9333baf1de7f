"""The edge's metric tally: increments of one event-loop pass are applied together, none is lost."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter

from ingest.metrics import EdgeMetrics, Tally


class CountingCounter:
    """Records the increments applied to it (each one is a shared-memory write under several workers)."""

    def __init__(self) -> None:
        self.applied: list[float] = []

    def inc(self, amount: float = 1) -> None:
        self.applied.append(amount)


async def test_increments_of_one_pass_are_applied_once_after_it() -> None:
    tally, requests, events = Tally(), CountingCounter(), CountingCounter()
    for _ in range(21):
        tally.add(requests)  # type: ignore[arg-type]
        tally.add(events)  # type: ignore[arg-type]
    assert requests.applied == events.applied == []
    await asyncio.sleep(0)
    assert (requests.applied, events.applied) == ([21], [21])
    tally.add(requests)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert requests.applied == [21, 1]


def test_outside_an_event_loop_an_increment_is_applied_at_once() -> None:
    tally, counter = Tally(), CountingCounter()
    tally.add(counter)  # type: ignore[arg-type]
    assert counter.applied == [1]


async def test_the_exposition_includes_increments_not_yet_applied() -> None:
    metrics = EdgeMetrics()
    for _ in range(3):
        metrics.request("POST", 200)
        metrics.event("message")
    text = metrics.exposition().decode()
    assert 'convsync_webhook_requests_total{method="POST",status="200"} 3.0' in text
    assert 'convsync_webhook_events_total{kind="message"} 3.0' in text
    await asyncio.sleep(0)  # the scheduled application finds nothing left to add
    text = metrics.exposition().decode()
    assert 'convsync_webhook_requests_total{method="POST",status="200"} 3.0' in text


async def test_a_real_counter_sums_the_tally() -> None:
    registry = CollectorRegistry()
    counter = Counter("tallied", "test", registry=registry)
    tally = Tally()
    for _ in range(5):
        tally.add(counter)
    await asyncio.sleep(0)
    assert registry.get_sample_value("tallied_total") == 5
