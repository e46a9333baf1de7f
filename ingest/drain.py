"""The background task that empties the spool into Kafka, oldest segment first.

It only runs while the producer is connected. Each claimed segment is re-parsed and produced
request by request, each within the produce deadline; the segment is removed only after all of its
requests were acknowledged. A failure leaves the segment for the next round, so a request may reach
Kafka twice (the writer is idempotent) but never zero times.
"""

from __future__ import annotations

import asyncio

import structlog

from ingest.delivery import PRODUCE_ERRORS, Delivery
from ingest.health import kafka_reachable
from ingest.parse import WebhookRejected, parse_webhook
from kernel.records import EventRecord
from ingest.received import Received
from ingest.spool import SegmentClaim

log = structlog.get_logger("convsync.ingest")


async def drain_forever(delivery: Delivery, *, interval_s: float = 0.5, max_interval_s: float = 5.0) -> None:
    """Every interval: when the spool holds something and Kafka answers, drain it. Failures back
    off (doubling up to `max_interval_s`) so an outage does not cut a new segment every round."""
    delay = interval_s
    while True:
        await asyncio.sleep(delay)
        delivery.metrics.spool_bytes.set(delivery.spool.size_bytes())
        if not delivery.spool.segments() or not await kafka_reachable(delivery.link):
            continue
        try:
            await drain_once(delivery)
        except PRODUCE_ERRORS as exc:
            log.warning("spool_drain_paused", error=exc.__class__.__name__)
            delay = min(delay * 2, max_interval_s)
        else:
            delay = interval_s


async def drain_once(delivery: Delivery) -> int:
    """Produce every claimable segment; the number of requests drained."""
    delivery.spool.seal()
    drained = 0
    for path in delivery.spool.segments():
        claim = SegmentClaim.claim(path)
        if claim is None:
            continue  # another process's open segment, or being drained elsewhere
        try:
            requests = claim.read()
            for request in requests:
                async with asyncio.timeout(delivery.timeout_s):
                    await delivery.produce(request, _records(request))
            claim.done()
        finally:
            claim.release()
        drained += len(requests)
        delivery.metrics.drained.inc(len(requests))
        log.info("spool_segment_drained", segment=path.name, requests=len(requests))
    return drained


def _records(request: Received) -> list[EventRecord]:
    try:
        return parse_webhook(request.body, received_at=request.received_at, body_sha256=request.body_sha256)
    except WebhookRejected:  # cannot happen for a body that was accepted; archive it anyway
        return []
