"""Prometheus metrics of the webhook edge, one registry per app (tests build many apps).

Label children are created once and cached, so the request path does a dict lookup and an
increment, never a label resolution. Under several workers (`convsync serve --workers N` sets
PROMETHEUS_MULTIPROC_DIR for them) the exposition is the sum over every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ingest.records import KINDS

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
                                         "Time until Kafka acknowledged every record of a request",
                                         buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.spooled = Counter("convsync_spool_appended_requests", "Requests written to the local spool",
                               registry=self.registry)
        self.drained = Counter("convsync_spool_drained_requests", "Spooled requests produced to Kafka",
                               registry=self.registry)
        self.spool_bytes = Gauge("convsync_spool_bytes", "Bytes waiting in the local spool",
                                 registry=self.registry, multiprocess_mode="max")  # workers share the spool
        self._children: dict[tuple[str, str], Counter] = {}

    def request(self, method: str, status: int) -> None:
        key = (method, str(status))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._requests.labels(*key)
        child.inc()

    def rejection(self, reason: str) -> None:
        self._rejections.labels(reason).inc()

    def event(self, kind: str) -> None:
        self._events[kind].inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            every_worker = CollectorRegistry()
            MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
            return generate_latest(every_worker)
        return generate_latest(self.registry)
