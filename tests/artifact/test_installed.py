"""What a user gets from `pip install`: the installed wheel, run from a folder outside the checkout.

The wheel is built and installed by the Dockerfile's own steps (conftest.py). `migrate`, `serve`,
`consume` and `reconcile` run as processes of that installation against the test run's PostgreSQL
and broker, with the emulator playing Meta: a signed webhook becomes a `messages` row, and a full sync
started through the admin API writes every conversation of the page.
"""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path

import aiohttp
import pytest

from emulator.runner import EmulatorConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings
from ingest.signature import sign
from tests.artifact import dockerfile
from tests.artifact.conftest import Installed
from tests.e2e.harness import System, running_system, wait_until
from tests.ingest.meta import meta_bytes
from tests.support.databases import create_database, drop_database
from tests.support.infra import Infra

pytestmark = [pytest.mark.artifact, pytest.mark.integration]

PACKAGES = ("convsync", "kernel", "ingest", "consumers", "reconciler", "replay", "console", "emulator", "migrations")


def _convsync(installed: Installed, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed.convsync), *args], cwd=installed.workdir, env=installed.env(**env),
                          capture_output=True, text=True, timeout=120)


def test_version_is_the_projects(installed: Installed) -> None:
    version = tomllib.loads((dockerfile.ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = _convsync(installed, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"convsync, version {version}"


def test_every_package_is_imported_from_the_installation(installed: Installed) -> None:
    script = "; ".join(f"import {p}; print({p}.__file__)" for p in PACKAGES)
    done = subprocess.run([str(installed.python), "-c", script], cwd=installed.workdir, env=installed.env(),
                          capture_output=True, text=True, check=True)
    origins = [Path(line).resolve() for line in done.stdout.split()]
    assert len(origins) == len(PACKAGES)
    assert all(installed.venv.resolve() in origin.parents for origin in origins), origins


def _message_body(page_id: str, user_id: str, mid: str) -> bytes:
    return meta_bytes({"object": "page", "entry": [{"id": page_id, "time": int(time.time() * 1000), "messaging": [
        {"sender": {"id": user_id}, "recipient": {"id": page_id}, "timestamp": int(time.time() * 1000),
         "message": {"mid": mid, "text": "hello from the smoke test"}}]}]})


async def _post_webhook(system: System, body: bytes) -> int:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, system.app_secret.encode())}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{system.serve_url}/webhook", data=body, headers=headers) as response:
            return response.status


async def _full_sync(system: System, page_id: str) -> dict[str, object]:
    """An admin full sync, once the reconciler's own first pass over the new page (409 meanwhile) is over."""
    answer: dict[str, object] = {}

    async def ran() -> bool:
        status, body = await system.admin("POST", f"/admin/pages/{page_id}/sync?wait=true", {"mode": "full"})
        assert status in {200, 409}, body
        answer.update(body)
        return status == 200

    await wait_until(ran, timeout_s=90, what="an admin full sync", every_s=1)
    return answer


async def _console_shows(system: System, page_id: str) -> None:
    """The installed serve's console: a login (a session row written by serve's own database role),
    then the pages view from the wheel's templates, and its stylesheet from the wheel's static files."""
    console = system.serve_url + "/admin/console"
    async with aiohttp.ClientSession() as http:
        async with http.post(console + "/login", data={"token": system.admin_token}, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
            cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        async with http.get(console, headers={"Cookie": cookie}) as r:
            html = await r.text()
            assert r.status == 200 and page_id in html and "succeeded" in html, html[:2000]
        async with http.get(console + "/static/console.css") as r:
            assert r.status == 200 and "font" in await r.text()


async def test_installed_roles_write_a_webhook_and_a_full_sync(installed: Installed, infra: Infra,
                                                               kafka: KafkaSettings, tmp_path: Path) -> None:
    url = await create_database(infra.database_url, None)  # empty: the installed `migrate` builds it
    try:
        first = _convsync(installed, "migrate", CONVSYNC_DATABASE_URL=url)
        assert first.returncode == 0 and "applied" in first.stdout and "0 migration" not in first.stdout, first
        again = _convsync(installed, "migrate", CONVSYNC_DATABASE_URL=url)
        assert again.returncode == 0 and "applied 0 migration(s)" in again.stdout, again
        config = EmulatorConfig(world=WorldConfig(seed=21, pages=1, conversations_per_page=25,
                                                  messages_per_conversation=3))
        async with running_system(url, kafka, tmp_path, config, command=[str(installed.convsync)],
                                  cwd=installed.workdir) as system:
            (page_id,) = system.emu.world.pages
            assert await _post_webhook(system, _message_body(page_id, "smoke-user-1", "m_smoke_1")) == 200

            async def stored() -> bool:
                rows = await system.fetch("SELECT text FROM messages WHERE mid = 'm_smoke_1'")
                return [r["text"] for r in rows] == ["hello from the smoke test"]

            await wait_until(stored, timeout_s=60, what="the webhook's message row")
            run = await _full_sync(system, page_id)
            assert run["status"] == "succeeded" and run["conversations"] == 25, run

            async def synced() -> bool:
                rows = await system.fetch(
                    "SELECT count(*) AS n FROM conversations WHERE page_id = $1 AND graph_id IS NOT NULL", page_id)
                return rows[0]["n"] == 25

            await wait_until(synced, timeout_s=60, what="the full sync's 25 conversations")

            # the installed serve replays (dry run) the archive: the smoke webhook's body is in it
            status, answer = await system.admin("POST", "/admin/replays", {"from": "raw", "dry_run": True})
            assert status == 202, answer
            replayed: dict[str, object] = {}

            async def replay_done() -> bool:
                replayed.update((await system.admin("GET", f"/admin/replays/{answer['replay_id']}"))[1])
                return replayed.get("status") in {"succeeded", "failed"}

            await wait_until(replay_done, timeout_s=60, what="the dry-run replay")
            assert (replayed["status"], replayed["matched"], replayed["produced"]) == ("succeeded", 1, 0), replayed
            await _console_shows(system, page_id)
            system.procs.check_alive()  # serve, consume and reconcile all still running
    finally:
        await drop_database(infra.database_url, url)


def test_a_missing_sql_file_stops_consume_naming_it(installed: Installed, kafka: KafkaSettings) -> None:
    """A broken installation is our defect: exit 1 with the file's name, not a silent endless retry."""
    where = subprocess.run([str(installed.python), "-c", "import consumers; print(consumers.__file__)"],
                           cwd=installed.workdir, env=installed.env(), capture_output=True, text=True, check=True)
    statement = Path(where.stdout.strip()).parent / "sql" / "upsert_messages.sql"
    hidden = statement.with_suffix(".hidden")
    statement.rename(hidden)
    try:
        done = _convsync(installed, "consume", CONVSYNC_DATABASE_URL="postgresql://127.0.0.1:1/none",
                         **kafka.environment())
    finally:
        hidden.rename(statement)
    assert done.returncode == 1, done
    assert "upsert_messages.sql" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_installed_dev_runs_the_whole_system_and_stops_cleanly(installed: Installed, tmp_path: Path) -> None:
    """The README's first command as a user meets it: `convsync dev` right after installing the wheel
    (no extras) starts the embedded PostgreSQL and broker, the three roles and the emulator, stores
    messages, and stops everything it started when its time is up."""
    data = tmp_path / "dev-data"
    env = {k: v for k, v in installed.env().items() if not k.startswith("CONVSYNC_")}
    done = subprocess.run([str(installed.convsync), "dev", "--data-dir", str(data), "--duration", "25", "--pages", "1",
                           "--instagram-pages", "0", "--conversations", "5", "--messages", "2", "--rate", "5",
                           "--reconcile-interval", "5", "--seed", "7"],
                          cwd=installed.workdir, env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    summary = done.stdout[done.stdout.rindex("stopped."):]
    delivered = int(summary.split("delivered ", 1)[1].split()[0])
    stored = int(summary.split("stored ", 1)[1].split()[0])
    assert delivered > 0 and stored >= 10, summary  # the seeded 5 x 2 messages at least, and live traffic
    assert not (data / "pgdata" / "postmaster.pid").exists(), "PostgreSQL still running after dev stopped"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
