"""Prometheus metrics of the webhook edge, one registry per app (tests build many apps).

Label children are created once and cached, so the request path does a dict lookup and an
increment, never a label resolution. Under several workers (`convsync serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR for them) the exposition is the sum over every worker's values.

The counters of accepted requests and events are tallied (`Tally`): the requests answered together
after one Kafka acknowledgement add up their increments, which are applied once, after that pass of
the event loop. Under several workers every increment is a locked write to a memory-mapped file,
and one per request and event was about 5% of the edge's CPU per request in bench/webhook.py.
The produce latency is observed once per produce (`Coalescer` group) for the same reason.
"""

from __future__ import annotations

import asyncio
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from kernel.records import KINDS

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter("convsync_webhook_requests", "Webhook requests answered, by method and status",
                                 ["method", "status"], registry=self.registry)
        self._rejections = Counter("convsync_webhook_rejections", "Webhook requests refused, by reason",
                                   ["reason"], registry=self.registry)
        events = Counter("convsync_webhook_events", "Events accepted from webhooks, by kind",
                         ["kind"], registry=self.registry)
        self._events = {kind: events.labels(kind) for kind in KINDS}
        self.produce_seconds = Histogram("convsync_webhook_produce_seconds",
                                         "Time from the first request of a produce (the requests sent to Kafka "
                                         "together) until Kafka acknowledged all of its records",
                                         buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.spooled = Counter("convsync_spool_appended_requests", "Requests written to the local spool",
                               registry=self.registry)
        self.drained = Counter("convsync_spool_drained_requests", "Spooled requests produced to Kafka",
                               registry=self.registry)
        self.spool_bytes = Gauge("convsync_spool_bytes", "Bytes waiting in the local spool",
                                 registry=self.registry, multiprocess_mode="max")  # workers share the spool
        self._children: dict[tuple[str, str], Counter] = {}
        self._tally = Tally()

    def request(self, method: str, status: int) -> None:
        key = (method, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._requests.labels(*key)
        self._tally.add(child)

    def rejection(self, reason: str) -> None:
        self._rejections.labels(reason).inc()

    def event(self, kind: str) -> None:
        self._tally.add(self._events[kind])

    def exposition(self) -> bytes:
        self._tally.flush()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            every_worker = CollectorRegistry()
            MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
            return generate_latest(every_worker)
        return generate_latest(self.registry)


class Tally:
    """Counter increments gathered during one pass of the event loop, applied together after it.

    Outside a running loop an increment is applied at once. Pending increments are applied by the
    callback scheduled with the first of them, or by an explicit `flush` (the exposition)."""

    def __init__(self) -> None:
        self._pending: dict[Counter, int] = {}
        self._scheduled = False

    def add(self, counter: Counter) -> None:
        self._pending[counter] = self._pending.get(counter, 0) + 1
        if not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            loop.call_soon(self.flush)
            self._scheduled = True

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        self._scheduled = False
        for counter, amount in pending.items():
            counter.inc(amount)
