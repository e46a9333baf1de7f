"""The console's system figures: webhooks/s, consumer lag, DLQ, spool, and the edge's readiness.

    view = SystemView(edge, settings)
    figures = await view.figures()          # never raises: what cannot be read now is None ("unknown")
    letters = await view.dead_letters()
    await view.close()

Webhooks/s is the rate of the edge's accepted-events counter (every worker's, in multiprocess mode)
between two readings (`Rate`, pure, clock passed in). Kafka answers are cached for `kafka_ttl_s`, so
a console refreshing in several tabs asks Kafka at most that often, and each read is bounded by
`kafka_timeout_s`: a broker that is down makes the figures unknown, never the page slow.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from console.deadletters import DeadLetterReader, Summary
from ingest.app import Edge
from ingest.health import readiness
from kernel.lag import GroupLag
from kernel.settings import Settings

log = structlog.get_logger("convsync.console")
EVENTS_METRIC = "convsync_webhook_events"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SystemFigures:
    webhooks_per_s: float | None
    consumer_lag: int | None
    dlq_depth: int | None
    spool_bytes: int
    ready: dict[str, bool]


@dataclass(slots=True)
class Rate:
    """Per-second rate of a growing counter over the readings of the last `window_s` (pure)."""

    window_s: float = 60.0
    _readings: deque[tuple[float, float]] = field(default_factory=deque)

    def observe(self, now: float, total: float) -> float | None:
        self._readings.append((now, total))
        while len(self._readings) > 2 and now - self._readings[1][0] >= self.window_s:
            self._readings.popleft()
        (t0, v0), (t1, v1) = self._readings[0], self._readings[-1]
        return None if t1 - t0 < 0.5 else max(0.0, v1 - v0) / (t1 - t0)


@dataclass(slots=True)
class Cached(Generic[T]):
    """The last answer of `read`, asked again once it is `ttl_s` old; a failed read is None."""

    read: Callable[[], Awaitable[T]]
    ttl_s: float
    timeout_s: float
    _at: float = float("-inf")
    _value: T | None = None

    async def get(self, now: float) -> T | None:
        if now - self._at >= self.ttl_s:
            self._at = now
            try:
                self._value = await asyncio.wait_for(self.read(), self.timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("console_kafka_read_failed", error=type(exc).__name__)
                self._value = None
        return self._value


def accepted_events(exposition: bytes) -> float:
    """The edge's accepted-events counter, summed over kinds (and workers), from Prometheus text."""
    total = 0.0
    for family in text_string_to_metric_families(exposition.decode()):
        if family.name == EVENTS_METRIC:
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


class SystemView:
    def __init__(self, edge: Edge, settings: Settings, *, kafka_ttl_s: float = 5.0, kafka_timeout_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._edge = edge
        self._settings = settings
        self._clock = clock
        self._rate = Rate()
        self._lag = GroupLag(settings.kafka, settings.consumer.group_id)
        self._letters = DeadLetterReader(settings.kafka)
        self._lag_cache = Cached(self._lag.records, kafka_ttl_s, kafka_timeout_s)
        self._dlq_cache = Cached(self._letters.summary, kafka_ttl_s, kafka_timeout_s * 2)

    async def figures(self) -> SystemFigures:
        now = self._clock()
        edge = self._edge
        checks = await readiness(edge.link, edge.spool, self._settings.webhook.max_body_bytes,
                                 self._settings.database.url)
        letters = await self._dlq_cache.get(now)
        return SystemFigures(
            webhooks_per_s=self._rate.observe(now, accepted_events(edge.metrics.exposition())),
            consumer_lag=await self._lag_cache.get(now),
            dlq_depth=None if letters is None else letters.depth,
            spool_bytes=edge.spool.size_bytes(),
            ready=checks,
        )

    async def dead_letters(self) -> Summary | None:
        return await self._dlq_cache.get(self._clock())

    async def close(self) -> None:
        await self._lag.close()
        await self._letters.close()
