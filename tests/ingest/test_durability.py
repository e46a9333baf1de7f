"""Broker trouble: a 200 means durable. Our own Tansu is stopped and started; the spool bridges the gap.

Tansu keeps topics in memory, so after its restart the topics are created again and the test checks
that every spooled event arrives in them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from convsync.embedded import Tansu, free_port
from kernel.kafka import ensure_topics
from kernel.records import decode
from kernel.settings import KafkaSettings, Settings
from ingest.spool import Spool
from tests.ingest.conftest import VERIFY_TOKEN, client, edge_settings, read_topic, served, wait_for_port
from tests.ingest.meta import SECRET, meta_bytes, signed_headers

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def body(n: int) -> bytes:
    return meta_bytes({"object": "page", "entry": [{"id": "100", "time": 1732870000000 + n, "messaging": [
        {"sender": {"id": f"u{n % 3}"}, "recipient": {"id": "100"}, "timestamp": 1732870000000 + n,
         "message": {"mid": f"m_{n}", "text": f"message {n} \u00e4"}}]}]})


@pytest.fixture
def own_tansu(tmp_path: Path) -> Iterator[Tansu]:
    broker = Tansu(port=free_port(), log_path=tmp_path / "own-tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def post_all(url: str, bodies: list[bytes]) -> list[int]:
    async with client() as http:
        async def post(data: bytes) -> int:
            async with http.post(f"{url}/webhook", data=data, headers=signed_headers(data)) as response:
                return response.status
        return list(await asyncio.gather(*(post(b) for b in bodies)))


async def wait_until_drained(spool: Spool, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while spool.segments() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not spool.segments(), "the spool was not drained"


async def mids_in(kafka: KafkaSettings, count: int) -> set[str]:
    events = await read_topic(kafka, kafka.topics.events, count)
    return {decode(e.value).event["message"]["mid"] for e in events}


async def edge_on(broker: Tansu, data_dir: Path, prefix: str) -> tuple[KafkaSettings, Settings, Spool]:
    """Topics on our own Tansu, edge settings with a 1 s produce deadline, and the edge's spool."""
    kafka = KafkaSettings(bootstrap=broker.bootstrap, idempotence=False, events_partitions=4, topic_prefix=prefix)
    await ensure_topics(kafka)
    settings = edge_settings(kafka, data_dir / "spool", produce_timeout_s=1.0)
    return kafka, settings, Spool(data_dir / "spool", settings.webhook.spool_max_bytes)


async def test_broker_stopped_then_back_loses_nothing(own_tansu: Tansu, data_dir: Path) -> None:
    kafka, settings, spool = await edge_on(own_tansu, data_dir, "durability.")
    bodies = [body(n) for n in range(8)]
    async with served(settings) as url:
        assert await post_all(url, bodies[:1]) == [200]
        own_tansu.stop()
        started = time.monotonic()
        assert await post_all(url, bodies[1:]) == [200] * 7
        assert time.monotonic() - started < 5 * settings.webhook.produce_timeout_s
        assert spool.segments()
        own_tansu.start()  # memory storage: the topics are gone
        await ensure_topics(kafka)
        await wait_until_drained(spool)
    assert await mids_in(kafka, 7) >= {f"m_{n}" for n in range(1, 8)}
    raws = await read_topic(kafka, kafka.topics.raw, 7)
    assert {r.value for r in raws} >= set(bodies[1:])


async def test_a_frozen_broker_is_bridged_by_the_spool_within_the_deadline(own_tansu: Tansu, data_dir: Path) -> None:
    """A broker that takes requests but never answers (SIGSTOP): each group gives up at its deadline
    and is spooled, and the group after it is not held behind the unanswered one."""
    kafka, settings, spool = await edge_on(own_tansu, data_dir, "frozen.")
    bodies = [body(n) for n in range(12)]
    async with served(settings) as url:
        assert await post_all(url, bodies[:1]) == [200]
        assert own_tansu.proc is not None
        os.kill(own_tansu.proc.pid, signal.SIGSTOP)
        try:
            for first, last in ((1, 8), (8, 12)):
                started = time.monotonic()
                assert await post_all(url, bodies[first:last]) == [200] * (last - first)
                assert time.monotonic() - started < 5 * settings.webhook.produce_timeout_s
            assert spool.segments()
        finally:
            os.kill(own_tansu.proc.pid, signal.SIGCONT)
        await wait_until_drained(spool)
        assert await post_all(url, bodies[:1]) == [200]
    assert await mids_in(kafka, 12) >= {f"m_{n}" for n in range(12)}


def _serve_process(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "convsync", "serve", "--port", str(port), "--no-access-log"],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_spool_left_by_a_killed_process_is_drained_by_the_next(kafka: KafkaSettings, data_dir: Path) -> None:
    spool_dir, port = data_dir / "spool", free_port()
    env = {"CONVSYNC_APP_SECRETS": SECRET.decode(), "CONVSYNC_VERIFY_TOKEN": VERIFY_TOKEN,
           "CONVSYNC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens: every request spools
           "CONVSYNC_SPOOL_DIR": str(spool_dir), "CONVSYNC_PRODUCE_TIMEOUT_S": "0.5",
           "CONVSYNC_TOPIC_PREFIX": kafka.topic_prefix, "CONVSYNC_LOG_FORMAT": "json"}
    proc = _serve_process(env, port)
    try:
        await wait_for_port(port, proc)
        bodies = [body(n) for n in range(5)]
        assert await post_all(f"http://127.0.0.1:{port}", bodies) == [200] * 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    spool = Spool(spool_dir, 1 << 30)
    assert spool.segments()
    async with served(edge_settings(kafka, spool_dir)):
        await wait_until_drained(spool)
    assert await mids_in(kafka, 5) == {f"m_{n}" for n in range(5)}


async def test_full_spool_answers_503(kafka: KafkaSettings, data_dir: Path) -> None:
    unreachable = dataclasses.replace(kafka, bootstrap=f"127.0.0.1:{free_port()}")
    settings = edge_settings(unreachable, data_dir / "spool", produce_timeout_s=0.2, max_body_bytes=1000,
                             spool_max_bytes=2500)
    async with served(settings) as url:
        statuses = [(await post_all(url, [body(n)]))[0] for n in range(12)]
        async with client() as http, http.get(f"{url}/readyz") as response:
            assert (response.status, await response.json()) == (503, {"kafka": False, "spool": False})
    assert statuses[0] == 200 and 503 in statuses
    assert set(statuses[statuses.index(503):]) == {503}
