"""The webhook edge as a Starlette app: routes, and the resources its lifespan owns.

    create_app(settings, extra_routes=admin_routes, extra_lifespans=[admin_lifespan])

Routes: `GET/POST /webhook`, `GET /healthz`, `GET /readyz`, `GET /metrics`, plus `extra_routes`
(the admin API is composed in by `convsync serve`). With `settings.admin.port` set the app is
served on two listeners and answers each path on its own one only (`listener_allows`). The lifespan starts the producer (in the
background: the edge spools while Kafka is unreachable), the spool drainer, then each extra
lifespan; on shutdown it stops them in reverse order and flushes the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ingest.delivery import Delivery, KafkaLink
from ingest.drain import drain_forever
from ingest.health import readiness
from ingest.metrics import EdgeMetrics
from kernel.settings import Settings
from ingest.spool import Spool
from ingest.webhook import WebhookEndpoint

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
SHUTDOWN_FLUSH_S = 10.0


class Edge:
    """What the handlers share: settings, metrics, the producer link, the spool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = EdgeMetrics()
        self.extra_metrics: list[Callable[[], bytes]] = []
        self.spool = Spool(Path(settings.webhook.spool_dir), settings.webhook.spool_max_bytes)
        self.link = KafkaLink(settings.kafka, settings.webhook)
        self.delivery = Delivery(self.link, settings.kafka.topics, self.spool, settings.webhook, self.metrics)
        self.webhook = WebhookEndpoint(settings.webhook, self.delivery, self.metrics)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(self, request: Request) -> Response:
        checks = await readiness(self.link, self.spool, self.settings.webhook.max_body_bytes,
                                 self.settings.database.url)
        return JSONResponse(checks, status_code=200 if all(checks.values()) else 503)

    async def metrics_text(self, request: Request) -> Response:
        self.metrics.spool_bytes.set(self.spool.size_bytes())
        text = b"".join([self.metrics.exposition(), *(more() for more in self.extra_metrics)])
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        connecting = asyncio.create_task(self.link.connect())
        tasks = [connecting, asyncio.create_task(drain_forever(self.delivery))]
        # Give Kafka a moment before serving, so the first requests are not all spooled.
        await asyncio.wait([connecting], timeout=self.settings.webhook.produce_timeout_s)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.webhook.deadlines.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.delivery.coalescer.wait_settled(), SHUTDOWN_FLUSH_S)
            await self.link.close(SHUTDOWN_FLUSH_S)
            self.spool.seal()


ADMIN_PREFIXES = ("/admin", "/api/", "/metrics")  # the admin API, the old app's API, the console, metrics
WEBHOOK_PATH = "/webhook"


def listener_allows(path: str, on_admin_listener: bool) -> bool:
    """With an admin listener of its own, which listener answers which path (pure): the admin API,
    the console and /metrics only there, webhooks only on the public one, /healthz and /readyz on both."""
    admin_path = path.startswith(ADMIN_PREFIXES)
    if on_admin_listener:
        return path != WEBHOOK_PATH
    return not admin_path


class EdgeApp(Starlette):
    """Starlette, with `POST /webhook` dispatched ahead of the middleware stack.

    The webhook POST needs none of Starlette's request machinery (error and exception middleware,
    routing, a `Request`, response wrappers); skipping it was about a tenth of the edge's CPU per
    request in bench/webhook.py. An error escaping the handler is answered 500 by uvicorn. Every
    other request, and a POST reaching `/webhook` by another path (a mount), goes through Starlette.

    Nor does the webhook need the client's address behind a proxy, so uvicorn's proxy-headers
    middleware (`X-Forwarded-For`/`-Proto` from the addresses in `FORWARDED_ALLOW_IPS`, default
    loopback) wraps only the rest: `convsync serve` turns uvicorn's own off. The console and the
    admin API still see the client's address and scheme through a trusted proxy.
    """

    def __init__(self, *, webhook: ASGIApp, admin_port: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._webhook = webhook
        self._admin_port = admin_port  # None: one listener serves everything
        # uvicorn and Starlette spell the same ASGI types differently
        self._behind_proxy: ASGIApp = cast(ASGIApp, ProxyHeadersMiddleware(
            cast(Any, super().__call__), trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._admin_port is not None:
                server = scope.get("server") or (None, None)
                if not listener_allows(scope["path"], server[1] == self._admin_port):
                    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                    return
            if scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH:
                await self._webhook(scope, receive, send)
                return
        await self._behind_proxy(scope, receive, send)


def create_app(settings: Settings, *, extra_routes: Sequence[BaseRoute] = (),
               extra_lifespans: Sequence[Lifespan] = (),
               extra_metrics: Sequence[Callable[[], bytes]] = ()) -> Starlette:
    """`extra_metrics`: more Prometheus text for `/metrics` (what the composed admin API's syncs counted)."""
    edge = Edge(settings)
    edge.extra_metrics = list(extra_metrics)
    routes = [
        Route("/webhook", edge.webhook.handshake, methods=["GET"]),
        Route("/webhook", edge.webhook, methods=["POST"]),
        Route("/healthz", edge.healthz, methods=["GET"]),
        Route("/readyz", edge.readyz, methods=["GET"]),
        Route("/metrics", edge.metrics_text, methods=["GET"]),
        *extra_routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(edge.running())
            for extra in extra_lifespans:
                await stack.enter_async_context(extra(app))
            yield

    app = EdgeApp(routes=routes, lifespan=lifespan, webhook=edge.webhook, admin_port=settings.admin.port)
    app.state.edge = edge
    return app
