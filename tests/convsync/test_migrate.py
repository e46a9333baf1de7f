"""`convsync migrate` is idempotent and safe to run concurrently."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from convsync.migrate import available, migrate_url
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


async def _ledger(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await conn.close()


async def test_twice_then_twice_concurrently(infra: Infra) -> None:
    url = await create_database(infra.database_url, template=None)
    try:
        first = await migrate_url(url)
        assert first == [m.version for m in available()]
        assert await migrate_url(url) == []
        again = await asyncio.gather(migrate_url(url), migrate_url(url))
        assert again == [[], []]
        assert await _ledger(url) == first
    finally:
        await drop_database(infra.database_url, url)


async def test_concurrent_first_runs_apply_each_migration_once(infra: Infra) -> None:
    url = await create_database(infra.database_url, template=None)
    try:
        results = await asyncio.gather(*(migrate_url(url) for _ in range(4)))
        applied = [v for r in results for v in r]
        assert sorted(applied) == [m.version for m in available()]
        assert await _ledger(url) == sorted(applied)
    finally:
        await drop_database(infra.database_url, url)


async def test_cli_migrate_twice(infra: Infra) -> None:
    url = await create_database(infra.database_url, template=None)
    try:
        env = {**os.environ, "CONVSYNC_DATABASE_URL": url}
        cmd = [sys.executable, "-m", "convsync", "migrate"]
        first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert "applied 1 migration" in first.stdout or "applied" in first.stdout
        assert second.stdout.strip() == "applied 0 migration(s)"
    finally:
        await drop_database(infra.database_url, url)
