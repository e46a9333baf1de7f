"""`convsync consume --metrics-port`: the writer's own HTTP, for Prometheus and an orchestrator.

    GET /metrics  the writer's Prometheus metrics (the process's default registry)
    GET /healthz  200 while the process's event loop answers
    GET /readyz   200 when the member holds partitions and the database answers, else 503; the body
                  names each check, so a wedged writer (no partitions, a database gone) is visible
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Checks = Callable[[], Awaitable[dict[str, bool]]]


def make_app(checks: Checks) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        answers = await checks()
        return web.json_response(answers, status=200 if all(answers.values()) else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def serving(host: str, port: int, checks: Checks) -> AsyncIterator[None]:
    runner = web.AppRunner(make_app(checks), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
