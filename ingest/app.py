"""The webhook edge as a Starlette app: routes, and the resources its lifespan owns.

    create_app(settings, extra_routes=admin_routes, extra_lifespans=[admin_lifespan])

Routes: `GET/POST /webhook`, `GET /healthz`, `GET /readyz`, `GET /metrics`, plus `extra_routes`
(the admin API is composed in by `convsync serve`). The lifespan starts the producer (in the
background: the edge spools while Kafka is unreachable), the spool drainer, then each extra
lifespan; on shutdown it stops them in reverse order and flushes the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ingest.delivery import Delivery, KafkaLink
from ingest.drain import drain_forever
from ingest.health import readiness
from ingest.metrics import EdgeMetrics
from ingest.settings import Settings
from ingest.spool import Spool
from ingest.webhook import WebhookEndpoint

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
SHUTDOWN_FLUSH_S = 10.0


class Edge:
    """What the handlers share: settings, metrics, the producer link, the spool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = EdgeMetrics()
        self.spool = Spool(Path(settings.webhook.spool_dir), settings.webhook.spool_max_bytes)
        self.link = KafkaLink(settings.kafka, settings.webhook)
        self.delivery = Delivery(self.link, settings.kafka.topics, self.spool,
                                 settings.webhook.produce_timeout_s, self.metrics)
        self.webhook = WebhookEndpoint(settings.webhook, self.delivery, self.metrics)

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(self, request: Request) -> Response:
        checks = await readiness(self.link, self.spool, self.settings.webhook.max_body_bytes,
                                 self.settings.database.url)
        return JSONResponse(checks, status_code=200 if all(checks.values()) else 503)

    async def metrics_text(self, request: Request) -> Response:
        self.metrics.spool_bytes.set(self.spool.size_bytes())
        return Response(self.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

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
            await self.link.close(SHUTDOWN_FLUSH_S)
            self.spool.seal()


def create_app(settings: Settings, *, extra_routes: Sequence[BaseRoute] = (),
               extra_lifespans: Sequence[Lifespan] = ()) -> Starlette:
    edge = Edge(settings)
    routes = [
        Route("/webhook", edge.webhook.handshake, methods=["GET"]),
        Route("/webhook", edge.webhook.receive, methods=["POST"]),
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

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.edge = edge
    return app
