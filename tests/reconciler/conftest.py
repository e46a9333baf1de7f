"""Fixtures of the reconciler tests: settings on the test's own database and topics, the admin API
served by uvicorn on a loopback port, and an HTTP client that speaks to it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
import uvicorn
from starlette.applications import Starlette

from convsync.embedded import free_port
from kernel.settings import KafkaSettings, Settings, load
from reconciler.admin import AdminApi
from reconciler.tokens import new_key

ADMIN_TOKEN = "admin-token-for-tests"
APP_SECRET = "app-secret-for-tests"
TOKEN_KEY = new_key()


def make_settings(database_url: str, kafka: KafkaSettings, graph_url: str = "http://127.0.0.1:9",
                  **reconciler: Any) -> Settings:
    base = load({"CONVSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "CONVSYNC_TOKEN_KEY": TOKEN_KEY,
                 "CONVSYNC_APP_SECRETS": APP_SECRET, "CONVSYNC_GRAPH_URL": graph_url,
                 "CONVSYNC_DATABASE_URL": database_url})
    knobs = {"apply_wait_s": 3.0, "poll_s": 0.2, "interval_s": 3600.0, **reconciler}
    return dataclasses.replace(base, kafka=kafka, reconciler=dataclasses.replace(base.reconciler, **knobs))


@pytest.fixture
def settings(database_url: str, kafka: KafkaSettings) -> Settings:
    return make_settings(database_url, kafka)


@contextlib.asynccontextmanager
async def serve_admin(settings: Settings) -> AsyncIterator[str]:
    """The admin API alone (what `convsync serve` composes into the edge app) on 127.0.0.1."""
    api = AdminApi(settings)
    async with serve_app(Starlette(routes=api.routes(), lifespan=api.lifespan)) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_app(app: Starlette, port: int | None = None) -> AsyncIterator[str]:
    """Any ASGI app under uvicorn on a (free) loopback port, in this event loop; as `convsync serve`
    runs it, uvicorn applies no proxy headers (the edge's app does, except to webhooks)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           proxy_headers=False))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


ServeAdmin = Callable[[Settings], AbstractAsyncContextManager[str]]


@pytest.fixture
def admin_server() -> ServeAdmin:
    return serve_admin


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as session:
        yield session
