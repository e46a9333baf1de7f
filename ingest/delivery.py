"""Make an accepted webhook durable: Kafka (acks=all) within a deadline, else the local spool.

`KafkaLink` owns the producer and starts it in the background, so the edge serves (spooling) even
when Kafka is down at start-up. `Delivery.accept` hands a request to the coalescer, which sends it
with the requests around it under the outer deadline (aiokafka can wait forever), and falls back to
the spool; it returns False only when the spool is full. The coalescer writes Produce requests of
its own (`ingest.shipping`). `Delivery.produce` sends one request on its own through the producer,
which retries (the spool drainer, oldest first).

Errors: `BrokerUnavailable` — no started producer yet (treated like a Kafka timeout: spool).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest.coalesce import Coalescer, raw_headers
from kernel.kafka import producer as new_producer
from ingest.metrics import EdgeMetrics
from ingest.partition import MemoPartitioner
from kernel.producing import KafkaSink
from kernel.records import EventRecord, Topics
from kernel.settings import KafkaSettings, WebhookSettings
from ingest.shipping import ProduceRequests
from ingest.received import Received
from ingest.spool import Spool, SpoolFull

log = structlog.get_logger("convsync.ingest")

_HEADROOM = 64 * 1024  # record overhead and headers on top of the largest accepted body


class BrokerUnavailable(Exception):
    """The producer has not connected yet."""


PRODUCE_ERRORS = (TimeoutError, KafkaError, BrokerUnavailable)


class KafkaLink:
    """The edge's one producer, (re)tried in the background until it starts."""

    def __init__(self, kafka: KafkaSettings, webhook: WebhookSettings, *, retry_s: float = 1.0) -> None:
        self._kafka = kafka
        self._ack_timeout_ms = round(webhook.produce_timeout_s * 1000)
        self.max_request_bytes = max(1 << 20, webhook.max_body_bytes + _HEADROOM)
        self._retry_s = retry_s
        self.producer: AIOKafkaProducer | None = None

    async def connect(self) -> None:
        """Start the producer, retrying while the broker is unreachable (run as a task)."""
        while self.producer is None:
            candidate = new_producer(self._kafka, max_request_size=self.max_request_bytes, linger_ms=0,
                                     partitioner=MemoPartitioner())
            try:
                await candidate.start()
            except KafkaError as exc:
                await candidate.stop()
                log.warning("kafka_connect_failed", error=exc.__class__.__name__)
                await asyncio.sleep(self._retry_s)
            else:
                self.producer = candidate
                log.info("kafka_connected")

    def shipper(self) -> ProduceRequests:
        """The coalescer's Produce requests: the broker waits for replicas up to the produce deadline,
        and they are idempotent if this link's producer is."""
        return ProduceRequests(ack_timeout_ms=self._ack_timeout_ms, max_request_bytes=self.max_request_bytes,
                               idempotent=self._kafka.idempotence)

    def started(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise BrokerUnavailable("producer not started")
        return self.producer

    async def close(self, timeout_s: float) -> None:
        """Flush what is in flight, then stop (graceful shutdown)."""
        if self.producer is None:
            return
        with contextlib.suppress(*PRODUCE_ERRORS):
            await asyncio.wait_for(self.producer.flush(), timeout_s)
        await self.producer.stop()
        self.producer = None


class Delivery:
    def __init__(self, link: KafkaLink, topics: Topics, spool: Spool, webhook: WebhookSettings,
                 metrics: EdgeMetrics) -> None:
        self.link = link
        self.topics = topics
        self.spool = spool
        self.timeout_s = webhook.produce_timeout_s
        self.metrics = metrics
        self.coalescer = Coalescer(link.started, topics, MemoPartitioner(), link.shipper(),
                                   timeout_s=webhook.produce_timeout_s, linger_s=webhook.linger_ms / 1000,
                                   on_produced=metrics.produce_seconds.observe)

    async def produce(self, request: Received, records: Sequence[EventRecord]) -> None:
        """Send one request's events and raw body, then wait until Kafka acknowledged all of them."""
        sink = KafkaSink(self.link.started(), self.topics)
        acks = await sink.send_events(records)
        acks.append(await sink.send_raw(request.body, raw_headers(request), timestamp_ms=request.received_at))
        await asyncio.gather(*acks)

    async def accept(self, request: Received, records: Sequence[EventRecord]) -> bool:
        """Durable in Kafka or in the spool: True; the spool is full: False (answer 503)."""
        try:
            await self.coalescer.submit(request, records)
        except PRODUCE_ERRORS as exc:
            if not await self._spool(request, exc):
                return False
        for record in records:
            self.metrics.event(record.kind)
        return True

    async def _spool(self, request: Received, cause: BaseException) -> bool:
        try:
            await asyncio.to_thread(self.spool.append, request)
        except SpoolFull:
            log.error("spool_full", cause=cause.__class__.__name__, body_sha256=request.body_sha256)
            return False
        self.metrics.spooled.inc()
        log.warning("webhook_spooled", cause=cause.__class__.__name__, body_sha256=request.body_sha256)
        return True
