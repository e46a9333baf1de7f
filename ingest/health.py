"""Readiness: can this edge make a webhook durable right now?

Ready means Kafka answers a metadata request, the spool has room, and PostgreSQL answers when a
database is configured (the webhook path never needs it; the admin routes served beside it do).
"""

from __future__ import annotations

import asyncio

from ingest.delivery import PRODUCE_ERRORS, KafkaLink
from kernel.settings import Secret
from kernel.startup import database_reachable
from ingest.spool import Spool

CHECK_TIMEOUT_S = 2.0


async def kafka_reachable(link: KafkaLink) -> bool:
    if link.producer is None:
        return False
    try:
        await asyncio.wait_for(link.producer.client.fetch_all_metadata(), CHECK_TIMEOUT_S)
    except PRODUCE_ERRORS:
        return False
    return True


async def readiness(link: KafkaLink, spool: Spool, max_body_bytes: int, database: Secret | None) -> dict[str, bool]:
    """Named checks; ready when all are True. The spool must have room for one more largest request."""
    checks = {"kafka": await kafka_reachable(link), "spool": spool.has_room_for(max_body_bytes)}
    if database is not None:
        checks["database"] = await database_reachable(database.reveal(), timeout_s=CHECK_TIMEOUT_S)
    return checks
