"""A running convsync for end-to-end tests: every role its own OS process, the emulator playing Meta.

`async with running_system(...) as system:` starts `serve`, `consume` (N) and `reconcile` with
`python -m convsync ...` against the test's database and topics, then the emulator (in this process:
it is Meta, not part of what is deployed) sending signed webhooks to `serve`, and registers the
emulator's pages through the admin API. Everything stops when the block exits.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from cryptography.fernet import Fernet

from convsync.embedded import free_port
from convsync.processes import Processes, Role, role_env, wait_http_ok
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.truth import Diff, compare, expected
from emulator.webhooks import WebhookConfig
from kernel.settings import KafkaSettings
from tests.support.databases import as_user, create_login, drop_login


@dataclass
class System:
    procs: Processes
    serve_url: str
    admin_token: str
    database_url: str
    emu: Emulator
    app_secret: str
    kafka: KafkaSettings
    registered_tokens: set[str] = field(default_factory=set)  # every page token handed to the admin API

    def role(self, name: str) -> Role:
        return self.procs.roles[name]

    async def admin(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.request(method, self.serve_url + path, json=body,
                                    timeout=aiohttp.ClientTimeout(total=120)) as response:
                return response.status, await response.json(content_type=None)

    async def register_pages(self, tokens: Mapping[str, str] | None = None) -> None:
        for page in self.emu.world.pages.values():
            token = (tokens or {}).get(page.page_id, page.access_token)
            self.registered_tokens.add(token)
            status, _ = await self.admin("POST", "/admin/pages", {
                "page_id": page.page_id, "graph_page_id": page.graph_page_id, "platform": page.platform,
                "name": page.name, "access_token": token})
            assert status == 201, f"registering {page.page_id}: HTTP {status}"

    async def metrics(self) -> str:
        """serve's /metrics text."""
        async with aiohttp.ClientSession() as http:
            async with http.get(self.serve_url + "/metrics") as response:
                return await response.text()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def truth(self, *, window: int | None = 20, page_ids: list[str] | None = None) -> Diff:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await compare(conn, expected(self.emu.world, page_ids), window=window)
        finally:
            await conn.close()

    async def delivered_mids_missing(self) -> set[str]:
        """Messages whose webhook got a 2xx but which are not in the table (must end up empty)."""
        assert self.emu.delivery is not None
        mids = {str(e.event["message"]["mid"]) for e in self.emu.delivery.delivered if e.kind in {"message", "echo"}}
        rows = await self.fetch("SELECT mid FROM messages WHERE mid = ANY($1::text[])", list(mids))
        return mids - {r["mid"] for r in rows}


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str,
                     every_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def assert_no_secret_in_logs(procs: Processes, secrets_used: set[str]) -> None:
    """Every process's whole output, searched for every secret and page token it ever held."""
    for role in procs.roles.values():
        text = role.log_path.read_text(errors="replace") if role.log_path.exists() else ""
        leaked = [f"{s[:4]}... ({len(s)} chars)" for s in secrets_used if len(s) >= 8 and s in text]
        assert not leaked, f"{role.name}'s log holds secrets: {leaked}"


def system_env(database_url: str, kafka: KafkaSettings, graph_url: str, folder: Path,
                  app_secret: str, admin_token: str) -> dict[str, str]:
    secret_env = {"CONVSYNC_APP_SECRETS": app_secret, "CONVSYNC_VERIFY_TOKEN": secrets.token_hex(8),
                  "CONVSYNC_ADMIN_TOKEN": admin_token, "CONVSYNC_TOKEN_KEY": Fernet.generate_key().decode()}
    return role_env(database_url, kafka, graph_url, folder, secret_env,
                    produce_timeout_s="2",
                    reconcile_interval_s="3600",  # passes are triggered by the tests
                    sync_overlap_s="60",
                    sync_lease_s="20",  # a run killed with the database frees its page soon
                    batch_max_wait_ms="100")


@asynccontextmanager
async def running_system(database_url: str, kafka: KafkaSettings, folder: Path, config: EmulatorConfig,
                         *, consumers: int = 1, reconcilers: int = 1, register: bool = True,
                         command: list[str] | None = None,
                         cwd: Path | None = None, extra_env: Mapping[str, str] | None = None) -> AsyncIterator[System]:
    """`command` and `cwd`: how and where each role's `convsync` starts (default: this interpreter's)."""
    app_secret, admin_token = secrets.token_hex(16), secrets.token_urlsafe(16)
    graph_port, serve_port = free_port(), free_port()
    env = {**system_env(database_url, kafka, f"http://127.0.0.1:{graph_port}", folder, app_secret, admin_token),
           **(extra_env or {})}
    procs = Processes(env, folder / "logs")
    if command is not None:
        procs.command = command
    procs.cwd = cwd
    clean = False
    secrets_used = {app_secret, admin_token, env["CONVSYNC_VERIFY_TOKEN"], env["CONVSYNC_TOKEN_KEY"]}
    logins = {role: await create_login(database_url, f"convsync_{role}") for role in ("admin", "writer", "reconciler")}
    as_role = {role: {"CONVSYNC_DATABASE_URL": as_user(database_url, name)} for role, name in logins.items()}
    try:  # each process as its own role (DESIGN §5), never the superuser
        serve = procs.start("serve", "serve", "--port", str(serve_port), extra_env=as_role["admin"])
        for n in range(consumers):
            procs.start(f"consume-{n + 1}", "consume", extra_env=as_role["writer"])
        for n in range(reconcilers):
            procs.start("reconcile" if n == 0 else f"reconcile-{n + 1}", "reconcile", extra_env=as_role["reconciler"])
        await asyncio.to_thread(wait_http_ok, f"http://127.0.0.1:{serve_port}/healthz", serve)
        webhook = replace(config.webhook or WebhookConfig(url="", app_secret=""), url=f"http://127.0.0.1:{serve_port}/webhook",
                          app_secret=app_secret)
        graph = replace(config.graph, app_secret=app_secret)
        async with run_emulator(replace(config, port=graph_port, webhook=webhook, graph=graph)) as emu:
            system = System(procs, f"http://127.0.0.1:{serve_port}", admin_token, database_url, emu, app_secret,
                            kafka)
            if register:
                await system.register_pages()
            try:
                yield system
            except BaseException:
                for role in procs.roles.values():  # what each process said last, for the failure report
                    print(f"--- last lines of {role.name} ({role.log_path})\n{role.tail(30)}")
                raise
            secrets_used.update(p.access_token for p in emu.world.pages.values())
            secrets_used.update(system.registered_tokens)
        clean = True
    finally:
        procs.stop_all()
        for name in logins.values():
            await drop_login(database_url, name)
    if clean:
        assert_no_secret_in_logs(procs, secrets_used)
