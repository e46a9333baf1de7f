"""A network that misbehaves on purpose (Toxiproxy between convsync and Kafka): webhooks through the real
edge, the real consumer writing PostgreSQL, and each scenario checked against what was sent: nothing
lost, nothing doubled (every message stored once, every conversation counting exactly its messages).

- the broker answers slowly (3-8 s, jittered), so acks come after the edge's produce deadline: every
  request is still answered 200 in time (spooled), and written once the broker is quick again;
- connections reset in the middle of the edge's Produce requests and of the consumer's fetches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from ingest.app import create_app
from ingest.signature import sign
from kernel.settings import Settings
from tests.faults.conftest import FaultyKafka
from tests.ingest.meta import meta_bytes
from tests.reconciler.conftest import APP_SECRET, make_settings, serve_app
from tests.reconciler.support import consumers_running, until

pytestmark = [pytest.mark.integration]  # about the fault, not the broker kind: the Tansu leg only

PAGE = "700100200300"
MEETS_META_S = 10.0  # far inside the time Meta waits for a 200 before it counts a delivery failed


def bodies(count: int, tag: str) -> list[tuple[bytes, str, str]]:
    """`count` webhook bodies, one inbound message each, over 5 people: (body, mid, user)."""
    out = []
    for n in range(count):
        user, mid = f"{tag}{n % 5:03d}", f"m_{tag}_{n}"
        event = {"sender": {"id": user}, "recipient": {"id": PAGE}, "timestamp": 1_780_000_000_000 + n,
                 "message": {"mid": mid, "text": f"hello {n}"}}
        out.append((meta_bytes({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [event]}]}),
                    mid, user))
    return out


async def post_all(url: str, sent: list[tuple[bytes, str, str]]) -> list[tuple[int, float]]:
    """POST every body (8 at a time, as Meta's delivery pool does); (status, seconds) of each."""
    gate = asyncio.Semaphore(8)

    async def post(body: bytes) -> tuple[int, float]:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET.encode())}
        async with gate, aiohttp.ClientSession() as http:
            started = time.monotonic()
            async with http.post(url, data=body, headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=60)) as response:
                return response.status, time.monotonic() - started

    return await asyncio.gather(*(post(body) for body, _, _ in sent))


def settings_for(database_url: str, faulty: FaultyKafka, data_dir: Path) -> Settings:
    settings = make_settings(database_url, faulty.settings)
    return dataclasses.replace(settings, webhook=dataclasses.replace(
        settings.webhook, spool_dir=str(data_dir / "spool")))


async def assert_stored_once(database_url: str, sent: list[tuple[bytes, str, str]]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        mids = [mid for _, mid, _ in sent]
        sql = "SELECT count(*) FROM messages WHERE mid = ANY($1::text[])"
        assert await until(conn, sql, len(mids), mids, timeout_s=120) == len(mids), "messages lost"
        per_user = Counter(user for _, _, user in sent)
        rows = await conn.fetch("SELECT user_id, message_count FROM conversations WHERE page_id = $1 "
                                "AND user_id = ANY($2::text[])", PAGE, list(per_user))
        assert {r["user_id"]: r["message_count"] for r in rows} == dict(per_user), "messages doubled"
    finally:
        await conn.close()


async def test_a_broker_slower_than_the_edge_deadline_loses_nothing_and_doubles_nothing(
        database_url: str, faulty_kafka: FaultyKafka, data_dir: Path) -> None:
    settings = settings_for(database_url, faulty_kafka, data_dir)
    sent = bodies(40, "slow")
    async with serve_app(create_app(settings)) as url, consumers_running(settings):
        toxic = await faulty_kafka.proxy.toxic("latency", latency=5500, jitter=2500)  # every answer 3-8 s late
        answers = await post_all(f"{url}/webhook", sent)
        await faulty_kafka.proxy.remove(toxic)
        assert {status for status, _ in answers} == {200}
        slowest = max(seconds for _, seconds in answers)
        assert slowest < MEETS_META_S, f"an answer took {slowest:.1f} s"
        print(f"slow broker: {len(sent)} webhooks answered in at most {slowest:.2f} s "
              f"(deadline {settings.webhook.produce_timeout_s} s)")
        await assert_stored_once(database_url, sent)


async def test_connections_reset_mid_produce_and_mid_fetch_lose_nothing_and_double_nothing(
        database_url: str, faulty_kafka: FaultyKafka, data_dir: Path) -> None:
    settings = settings_for(database_url, faulty_kafka, data_dir)
    first, during = bodies(20, "calm"), bodies(60, "reset")
    async with serve_app(create_app(settings)) as url, consumers_running(settings):
        assert {s for s, _ in await post_all(f"{url}/webhook", first)} == {200}
        await assert_stored_once(database_url, first)  # the consumer is fetching, the edge producing
        proxy = faulty_kafka.proxy
        # every connection, old and new, is reset 300 ms into its life, in both directions
        toxics = [await proxy.toxic("reset_peer", stream=stream, timeout=300) for stream in ("upstream", "downstream")]
        answers = await post_all(f"{url}/webhook", during)
        await asyncio.sleep(3)  # the consumer's fetches keep being cut meanwhile
        for toxic in toxics:
            await proxy.remove(toxic)
        assert {status for status, _ in answers} == {200}
        assert max(seconds for _, seconds in answers) < MEETS_META_S
        await assert_stored_once(database_url, first + during)
