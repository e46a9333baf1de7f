"""The edge over real HTTP (uvicorn on loopback) against the real broker: answers, records, archive."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kernel.records import decode
from kernel.settings import KafkaSettings, Secret
from ingest.signature import sign
from tests.ingest.conftest import VERIFY_TOKEN, client, edge_settings, read_topic, served
from tests.ingest.meta import OLD_SECRET, SECRET, expected_records, fixture_cases, meta_bytes, signed_headers

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

CASES = dict(fixture_cases())
BATCHED = meta_bytes(CASES["messenger_batched"]["body"])
SMALL = meta_bytes({"object": "page", "entry": [{"id": "1", "time": 5, "messaging": [
    {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 1732870000000,
     "message": {"mid": "m_\u00e4", "text": "Gr\u00fc\u00dfe \u00e4\u00f6\u00fc"}}]}]})


async def test_batched_post_gives_the_right_records_and_the_exact_raw_body(kafka: KafkaSettings,
                                                                           data_dir: Path) -> None:
    async with served(edge_settings(kafka, data_dir / "spool")) as url, client() as http:
        async with http.post(f"{url}/webhook", data=BATCHED, headers=signed_headers(BATCHED)) as response:
            assert response.status == 200
    expected = expected_records(CASES["messenger_batched"])
    events = await read_topic(kafka, kafka.topics.events, len(expected))
    records = sorted((decode(e.value) for e in events), key=lambda r: r.index or 0)
    assert [{"kind": r.kind, "key": r.thread_key, "platform": r.platform, "timestamp": r.timestamp,
             "standby": r.event.get("standby") is True} for r in records] == expected
    assert all(e.key == decode(e.value).thread_key.encode() for e in events)
    (raw,) = await read_topic(kafka, kafka.topics.raw, 1)
    assert raw.value == BATCHED
    headers = dict(raw.headers)
    assert headers["signature"].decode() == sign(BATCHED, SECRET)
    assert headers["body_sha256"].decode() == records[0].body_sha256
    assert int(headers["received_at"]) == records[0].received_at


async def test_rejections_produce_nothing(kafka: KafkaSettings, data_dir: Path) -> None:
    flipped = SMALL.replace(b"\\u00e4", b"\\u00e5", 1)
    reserialised = json.dumps(json.loads(SMALL)).encode()
    good = sign(SMALL, SECRET)
    cases = [
        (SMALL, {"Content-Type": "application/json"}, 401),  # missing header
        (SMALL, signed_headers(SMALL, b"wrong"), 403),
        (SMALL, {"Content-Type": "application/json", "X-Hub-Signature-256": "sha1=" + "0" * 40}, 403),
        (SMALL, {"Content-Type": "application/json", "X-Hub-Signature-256": good[:-3]}, 403),
        (flipped, {"Content-Type": "application/json", "X-Hub-Signature-256": good}, 403),
        (reserialised, {"Content-Type": "application/json", "X-Hub-Signature-256": good}, 403),
        (b"not json", signed_headers(b"not json"), 400),
        (b'{"entry": []}', signed_headers(b'{"entry": []}'), 400),
        (SMALL, {**signed_headers(SMALL), "Content-Type": "text/plain"}, 415),
        (SMALL, signed_headers(SMALL), 413),  # over a limit set below the body size
    ]
    settings = edge_settings(kafka, data_dir / "spool", max_body_bytes=len(SMALL) + 50)
    async with served(settings) as url, client() as http:
        for body, headers, status in cases:
            limit_case = status == 413
            data = body + b" " * 60 if limit_case else body
            if limit_case:
                headers = signed_headers(data)
            async with http.post(f"{url}/webhook", data=data, headers=headers) as response:
                assert response.status == status, (body[:30], status)
        rotated = signed_headers(SMALL, OLD_SECRET)  # second secret during rotation: accepted
        async with http.post(f"{url}/webhook", data=SMALL, headers=rotated) as response:
            assert response.status == 200
        async with http.get(f"{url}/metrics") as response:
            metrics = await response.text()
    raws = await read_topic(kafka, kafka.topics.raw, 2, timeout_s=3)
    assert [r.value for r in raws] == [SMALL]  # only the accepted one, the unicode body byte for byte
    assert 'convsync_webhook_rejections_total{reason="signature_mismatch"} 3.0' in metrics
    assert 'convsync_webhook_requests_total{method="POST",status="200"} 1.0' in metrics
    assert 'convsync_webhook_events_total{kind="message"} 1.0' in metrics


async def test_streamed_body_over_the_limit_is_refused_without_a_length(kafka: KafkaSettings,
                                                                        data_dir: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # chunked transfer: no Content-Length to check up front
        for _ in range(64):
            yield b" " * 1024

    settings = edge_settings(kafka, data_dir / "spool", max_body_bytes=4096)
    async with served(settings) as url, client() as http:
        async with http.post(f"{url}/webhook", data=chunks(), headers=signed_headers(b"")) as response:
            assert response.status == 413


async def test_slow_sender_gets_a_read_timeout(kafka: KafkaSettings, data_dir: Path) -> None:
    settings = edge_settings(kafka, data_dir / "spool", body_read_timeout_s=0.3)
    async with served(settings) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"object\"")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        (f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444", 200, "1158201444"),
        ("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403, None),
        (f"hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1", 403, None),
        (f"hub.verify_token={VERIFY_TOKEN}&hub.challenge=1", 403, None),
        (f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}", 403, None),
        ("", 403, None),
    ],
)
async def test_handshake(kafka: KafkaSettings, data_dir: Path, query: str, status: int, body: str | None) -> None:
    async with served(edge_settings(kafka, data_dir / "spool")) as url, client() as http:
        async with http.get(f"{url}/webhook?{query}") as response:
            assert response.status == status
            if body is not None:
                assert await response.text() == body
                assert response.content_type == "text/plain"


async def test_health_and_readiness(kafka: KafkaSettings, data_dir: Path, database_url: str) -> None:
    settings = edge_settings(kafka, data_dir / "spool")
    async with served(settings) as url, client() as http:
        async with http.get(f"{url}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{url}/readyz") as response:
            assert (response.status, await response.json()) == (200, {"kafka": True, "spool": True})
    for database, status in ((database_url, 200), (database_url.rsplit("/", 1)[0] + "/no_such_database", 503)):
        with_database = dataclasses.replace(settings, database=dataclasses.replace(settings.database,
                                                                                   url=Secret(database)))
        async with served(with_database) as url, client() as http:
            async with http.get(f"{url}/readyz") as response:
                expected = {"kafka": True, "spool": True, "database": status == 200}
                assert (response.status, await response.json()) == (status, expected)
