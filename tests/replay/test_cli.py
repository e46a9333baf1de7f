"""`convsync replay` as a user runs it: a process, its exit status, its summary line or JSON row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from kernel.settings import KafkaSettings
from tests.ingest.meta import SECRET
from tests.replay.archive import archive, bodies

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _convsync(database_url: str, kafka: KafkaSettings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    env.update(kafka.environment(), CONVSYNC_DATABASE_URL=database_url, CONVSYNC_LOG_FORMAT="json", **extra)
    return subprocess.run([sys.executable, "-m", "convsync", "replay", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).parent)


async def test_a_dry_run_prints_counts_and_records_its_row(database_url: str, kafka: KafkaSettings) -> None:
    items = bodies(30, seed=11)
    await archive(kafka, items)
    events = sum(len(i.records()) for i in items)
    done = _convsync(database_url, kafka, "--from", "raw", "--dry-run", "--json",
                     CONVSYNC_APP_SECRETS=SECRET.decode())
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert (row["status"], row["dry_run"], row["scanned"], row["matched"], row["produced"]) == (
        "succeeded", True, len(items), events, 0)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM replays WHERE dry_run AND status = 'succeeded'") == 1
        assert await conn.fetchval("SELECT count(*) FROM messages") == 0
    finally:
        await conn.close()
    assert SECRET.decode() not in done.stdout + done.stderr

    shown = _convsync(database_url, kafka, "--from", "raw", "--since", "2026-12-03T10:00:00Z", "--dry-run",
                      CONVSYNC_APP_SECRETS="another-secret")
    assert shown.returncode == 0, shown.stderr
    assert f"scanned {len(items)}, matched 0, produced 0, skipped {len(items)} (signature: {len(items)})" in shown.stdout


@pytest.mark.parametrize(("args", "extra", "needle"), [
    (("--from", "raw"), {}, "CONVSYNC_APP_SECRETS is missing"),
    (("--from", "raw", "--since", "yesterday"), {"CONVSYNC_APP_SECRETS": "s"}, "since must be ISO 8601"),
    (("--from", "tape"), {}, "'tape' is not one of 'raw', 'dlq'"),
])
def test_refusals_name_what_to_change(database_url: str, kafka: KafkaSettings, args: tuple[str, ...],
                                      extra: dict[str, str], needle: str) -> None:
    done = _convsync(database_url, kafka, *args, **extra)
    assert done.returncode == 2 and needle in done.stderr, done
    assert "Traceback" not in done.stderr
