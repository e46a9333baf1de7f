"""The console's stack: the emulator (Graph API and webhooks), `convsync serve`'s whole app (edge, admin
API, console) on a loopback port, and a consumer writing PostgreSQL; plus a logged-in HTTP helper."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from convsync.embedded import free_port
from convsync.serve import build_app
from emulator.graph import GraphConfig
from emulator.runner import Emulator, EmulatorConfig, run_emulator
from emulator.subscriptions import SubscriptionConfig
from emulator.webhooks import WebhookConfig
from emulator.world import WorldConfig
from kernel.settings import KafkaSettings, Settings
from tests.reconciler.conftest import ADMIN_TOKEN, APP_SECRET, make_settings, serve_app
from tests.reconciler.support import consumers_running, register_pages

CONSOLE = "/admin/console"
APP_ID = SubscriptionConfig().app_id
WORLD = WorldConfig(seed=29, pages=2, conversations_per_page=30, messages_per_conversation=3)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Stack:
    url: str  # the serve app's base URL
    emu: Emulator
    settings: Settings

    @property
    def page_ids(self) -> list[str]:
        return sorted(self.emu.world.pages)


def console_settings(database_url: str, kafka: KafkaSettings, graph_url: str, data_dir: Path) -> Settings:
    settings = make_settings(database_url, kafka, graph_url, app_id=APP_ID, apply_wait_s=30.0)
    return dataclasses.replace(
        settings,
        webhook=dataclasses.replace(settings.webhook, spool_dir=str(data_dir / "spool")),
        graph=dataclasses.replace(settings.graph, calls_per_second=50.0))


@contextlib.asynccontextmanager
async def console_stack(database_url: str, kafka: KafkaSettings, data_dir: Path, *,
                        world: WorldConfig = WORLD, consume: bool = True) -> AsyncIterator[Stack]:
    port = free_port()
    webhook = WebhookConfig(url=f"http://127.0.0.1:{port}/webhook", app_secret=APP_SECRET, seed=5)
    config = EmulatorConfig(world=world, graph=GraphConfig(calls_per_second=50.0, app_secret=APP_SECRET),
                            webhook=webhook)
    async with run_emulator(config) as emu:
        settings = console_settings(database_url, kafka, emu.graph_url, data_dir)
        await register_pages(settings, emu)
        async with contextlib.AsyncExitStack() as stack:
            url = await stack.enter_async_context(serve_app(build_app(settings), port=port))
            if consume:
                await stack.enter_async_context(consumers_running(settings))
            yield Stack(url, emu, settings)


@dataclass
class Operator:
    """An HTTP client with a console session (its cookie sent by hand: aiohttp keeps no cookies of
    bare IP addresses) and the session's CSRF token."""

    http: aiohttp.ClientSession
    url: str
    cookie: str
    csrf: str

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path, headers={"Cookie": self.cookie}, allow_redirects=False) as r:
            return r.status, await r.text()

    async def post(self, path: str, form: dict[str, str], *, csrf: str | None = "session",
                   headers: dict[str, str] | None = None) -> tuple[int, str, str | None]:
        data = dict(form)
        if csrf is not None:
            data["csrf"] = self.csrf if csrf == "session" else csrf
        async with self.http.post(self.url + path, data=data, allow_redirects=False,
                                  headers={"Cookie": self.cookie, **(headers or {})}) as r:
            return r.status, await r.text(), r.headers.get("Location")


def session_cookie(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


async def log_in(http: aiohttp.ClientSession, url: str, token: str = ADMIN_TOKEN) -> Operator:
    async with http.post(url + CONSOLE + "/login", data={"token": token}, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        cookie = session_cookie(response.headers["Set-Cookie"])
    async with http.get(url + CONSOLE, headers={"Cookie": cookie}) as response:
        assert response.status == 200
        found = CSRF.search(await response.text())
    assert found is not None
    return Operator(http, url, cookie, found.group(1))
