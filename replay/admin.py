"""The replay routes of the admin API (DESIGN §4), composed into `convsync serve` beside the others.

    POST /admin/replays            {"from": "raw"|"dlq", "page_id"?, "since"?, "until"?, "dry_run"?}
                                   -> 202 {"replay_id"}; the replay runs in serve, in the background
    GET  /admin/replays/{id}       -> the replay's row: status, scanned, matched, produced, skipped, ...
    GET  /admin/replays            -> {"replays": [...]}, newest first

The same bearer token as every admin route (401 without it; nothing starts). A malformed request is
400 naming the field; an unknown replay 404; a raw replay when serve has no app secret cannot
happen (serve requires them).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator


from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kernel.bearer import FailedAuth, Handler, bearer_required
from kernel.settings import Settings, require
from replay.service import Replays
from replay.window import SelectionError, from_json

class ReplayApi:
    def __init__(self, settings: Settings, failures: FailedAuth | None = None) -> None:
        self.settings = settings
        self.failures = failures or FailedAuth(limit=settings.admin.auth_failures_per_minute)
        self._replays: Replays | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        import asyncpg

        url = require(self.settings.database.url, "DATABASE_URL").reveal()
        secrets = [s.reveal().encode() for s in self.settings.webhook.app_secrets]
        # min_size=0, as the reconciler's pool: serve starts (and takes webhooks) while PostgreSQL is down
        async with asyncpg.create_pool(url, min_size=0, max_size=2,
                                       server_settings=self.settings.database.server_settings()) as pool:
            async with Replays(pool, self.settings.kafka, secrets) as replays:
                self._replays = replays
                try:
                    yield
                finally:
                    self._replays = None

    @property
    def replays(self) -> Replays:
        if self._replays is None:
            raise RuntimeError("the replay API's lifespan has not started")
        return self._replays

    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        return [
            Route("/admin/replays", g(self.start), methods=["POST"]),
            Route("/admin/replays", g(self.recent), methods=["GET"]),
            Route("/admin/replays/{replay_id}", g(self.get), methods=["GET"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        return bearer_required(handler, self.settings.admin.admin_token, self.failures)

    async def start(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise SelectionError("body must be a JSON object")
            wanted = from_json(body, now_ms=int(time.time() * 1000))
        except (ValueError, UnicodeDecodeError) as exc:
            message = str(exc) if isinstance(exc, SelectionError) else "body is not valid JSON"
            return JSONResponse({"error": message}, status_code=400)
        replay_id = await self.replays.start(wanted, "admin")
        return JSONResponse({"replay_id": replay_id}, status_code=202)

    async def get(self, request: Request) -> Response:
        try:
            replay_id = str(uuid.UUID(request.path_params["replay_id"]))
        except ValueError:
            return JSONResponse({"error": "unknown replay"}, status_code=404)
        found = await self.replays.get(replay_id)
        return JSONResponse(found) if found else JSONResponse({"error": "unknown replay"}, status_code=404)

    async def recent(self, request: Request) -> Response:
        return JSONResponse({"replays": await self.replays.recent()})
