"""500 idle connections plus senders that trickle their headers a byte at a time hold sockets of
`convsync serve` (its own OS process): legitimate webhooks still get 200 in time, because the edge is
one asyncio loop whose idle sockets cost it nothing but a file descriptor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convsync.embedded import free_port
from kernel.settings import KafkaSettings
from tests.faults.test_network import MEETS_META_S, bodies, post_all
from tests.ingest.conftest import wait_for_port
from tests.reconciler.conftest import APP_SECRET

pytestmark = [pytest.mark.integration]  # about the fault, not the broker kind: the Tansu leg only

IDLE, TRICKLING, LEGITIMATE = 500, 20, 50


async def trickle(port: int, stop: asyncio.Event) -> None:
    """A slowloris: a request line, then one header byte every half second, never finishing."""
    with contextlib.suppress(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while not stop.is_set():
            writer.write(b"a")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        writer.close()


async def test_idle_and_trickling_connections_do_not_starve_real_webhooks(kafka: KafkaSettings,
                                                                           data_dir: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * (IDLE + TRICKLING) + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    port = free_port()
    env = {**os.environ, "CONVSYNC_APP_SECRETS": APP_SECRET, "CONVSYNC_VERIFY_TOKEN": "verify-for-the-idle-test",
           **kafka.environment(), "CONVSYNC_SPOOL_DIR": str(data_dir / "spool"), "CONVSYNC_LOG_FORMAT": "json"}
    with open(data_dir / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "convsync", "serve", "--port", str(port), "--no-access-log"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    idle: list[asyncio.StreamWriter] = []
    stop = asyncio.Event()
    try:
        await wait_for_port(port, proc)
        for _ in range(IDLE):
            idle.append((await asyncio.open_connection("127.0.0.1", port))[1])
        slow = [asyncio.create_task(trickle(port, stop)) for _ in range(TRICKLING)]
        await asyncio.sleep(1)
        started = time.monotonic()
        answers = await post_all(f"http://127.0.0.1:{port}/webhook", bodies(LEGITIMATE, "idle"))
        took = time.monotonic() - started
        assert [status for status, _ in answers] == [200] * LEGITIMATE
        slowest = max(seconds for _, seconds in answers)
        assert slowest < MEETS_META_S
        print(f"{IDLE} idle + {TRICKLING} trickling connections: {LEGITIMATE} webhooks all 200, "
              f"slowest {slowest * 1000:.0f} ms, {took:.2f} s in all")
        stop.set()
        await asyncio.gather(*slow)
    finally:
        stop.set()
        for writer in idle:
            writer.close()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
