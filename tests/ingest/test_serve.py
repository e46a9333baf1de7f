"""`convsync serve` as its own OS process: answers, metrics summed over workers, access log hygiene,
graceful shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from convsync.embedded import free_port
from ingest.access_log import DropQueryString
from kernel.settings import KafkaSettings
from ingest.signature import sign
from tests.ingest.conftest import VERIFY_TOKEN, client, read_topic, wait_for_port
from tests.ingest.meta import SECRET, meta_bytes, signed_headers

BODY = meta_bytes({"object": "page", "entry": [{"id": "300", "time": 1, "messaging": [
    {"sender": {"id": "301"}, "recipient": {"id": "300"}, "timestamp": 1732870000000,
     "message": {"mid": "m_serve", "text": "hi"}}]}]})
POSTS = 12


@pytest.mark.integration
@pytest.mark.kafka
async def test_serve_answers_keeps_secrets_out_of_the_log_and_stops_cleanly(kafka: KafkaSettings,
                                                                            data_dir: Path) -> None:
    port, log_path = free_port(), data_dir / "serve.log"
    env = {**os.environ, "CONVSYNC_APP_SECRETS": SECRET.decode(), "CONVSYNC_VERIFY_TOKEN": VERIFY_TOKEN,
           **kafka.environment(), "CONVSYNC_SPOOL_DIR": str(data_dir / "spool"),
           "CONVSYNC_LOG_FORMAT": "json"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "convsync", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await wait_for_port(port, proc)
        async with client() as http:
            query = f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
            async with http.get(f"http://127.0.0.1:{port}/webhook?{query}") as response:
                assert (response.status, await response.text()) == (200, "42")
            async with http.post(f"http://127.0.0.1:{port}/webhook", data=BODY,
                                 headers=signed_headers(BODY)) as response:
                assert response.status == 200
        for _ in range(POSTS - 1):  # a connection each: both workers take some
            async with client() as http, http.post(f"http://127.0.0.1:{port}/webhook", data=BODY,
                                                   headers=signed_headers(BODY)) as response:
                assert response.status == 200
        for _ in range(4):  # whichever worker answers /metrics counts every worker's requests
            async with client() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            assert f'convsync_webhook_requests_total{{method="POST",status="200"}} {POSTS:.1f}' in text, text
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
    output = log_path.read_text()
    assert '"GET /webhook HTTP/1.1" 200' in output and '"POST /webhook HTTP/1.1" 200' in output
    assert VERIFY_TOKEN not in output and sign(BODY, SECRET) not in output and SECRET.decode() not in output
    raw = await read_topic(kafka, kafka.topics.raw, POSTS)
    assert [r.value for r in raw] == [BODY] * POSTS


def test_serve_refuses_to_start_without_its_settings(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    done = subprocess.run([sys.executable, "-m", "convsync", "serve"], env={**env, "CONVSYNC_VERIFY_TOKEN": "t"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "CONVSYNC_APP_SECRETS is missing" in done.stderr


def test_access_log_filter_drops_the_query_string() -> None:
    import logging

    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/webhook?hub.verify_token=secret&hub.challenge=1", "1.1", 200),
                               None)
    assert DropQueryString().filter(record)
    assert "secret" not in record.getMessage() and "/webhook" in record.getMessage()


@pytest.mark.integration
@pytest.mark.kafka
@pytest.mark.parametrize("workers", [1, 2])
async def test_admin_port_moves_the_admin_api_and_metrics_off_the_webhook_listener(
        kafka: KafkaSettings, data_dir: Path, database_url: str, workers: int) -> None:
    port, admin_port, token = free_port(), free_port(), "admin-token-for-the-listener-test"
    env = {**os.environ, "CONVSYNC_APP_SECRETS": SECRET.decode(), "CONVSYNC_VERIFY_TOKEN": VERIFY_TOKEN,
           **kafka.environment(), "CONVSYNC_SPOOL_DIR": str(data_dir / "spool"), "CONVSYNC_LOG_FORMAT": "json",
           "CONVSYNC_ADMIN_TOKEN": token, "CONVSYNC_DATABASE_URL": database_url,
           "CONVSYNC_TOKEN_KEY": "9e1Dd8kp1cHBj3E6y7U0B4j1qv3JfX3b8Jm8QmB2Q0A="}
    with open(data_dir / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "convsync", "serve", "--port", str(port), "--workers",
                                 str(workers), "--admin-port", str(admin_port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    public, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        await wait_for_port(port, proc)
        await wait_for_port(admin_port, proc)
        async with client() as http:
            async def status(method: str, url: str, **kwargs: object) -> int:
                async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
                    return response.status

            assert await status("POST", f"{public}/webhook", data=BODY, headers=signed_headers(BODY)) == 200
            assert await status("GET", f"{admin}/admin/pages", headers=bearer) == 200
            assert await status("GET", f"{admin}/metrics") == 200
            for path in ("/admin/pages", "/admin/sync-runs", "/metrics", "/admin/console"):
                assert await status("GET", public + path, headers=bearer) == 404, path
            assert await status("POST", f"{public}/api/conversations/sync", json={"pageId": "1"},
                                headers=bearer) == 404
            assert await status("POST", f"{public}/admin/pages", json={}, headers=bearer) == 404
            assert await status("POST", f"{admin}/webhook", data=BODY, headers=signed_headers(BODY)) == 404
            for base in (public, admin):
                assert await status("GET", f"{base}/healthz") == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, (data_dir / "serve.log").read_text()[-3000:]
