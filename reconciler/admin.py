"""The admin HTTP API (DESIGN §4) as Starlette routes plus the lifespan that owns their resources.

    api = AdminApi(settings)
    create_app(settings, extra_routes=api.routes(), extra_lifespans=[api.lifespan])

Every route needs `Authorization: Bearer <CONVSYNC_ADMIN_TOKEN>` (compared in constant time); without
it, or with a wrong one, the answer is 401 and nothing happens. With no admin token configured
every request is refused. Malformed bodies are 400, unknown pages and runs 404, a page that cannot
sync now (busy, needs a token) 409. Tokens are write-only: no response ever contains one.

"Finished" for `?wait=true` and the compatibility endpoints: the run ended (records acked by Kafka,
watermark moved), then up to `CONVSYNC_SYNC_APPLY_WAIT_S` until the consumers applied every snapshot
of the run, so `inserted`/`updated` are the database's counts; `applied` says whether they got there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kernel.bearer import FailedAuth, bearer_required
from kernel.settings import Settings
from reconciler import compat, pages, runs
from reconciler.requests import (
    BadRequest,
    json_object,
    page_id,
    page_request,
    sync_mode,
)
from reconciler.resources import open_reconciler
from reconciler.service import Reconciler, SyncRejected

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class AdminApi:
    def __init__(self, settings: Settings, failures: FailedAuth | None = None) -> None:
        self.settings = settings
        self.failures = failures or FailedAuth(limit=settings.admin.auth_failures_per_minute)
        self._reconciler: Reconciler | None = None

    @property
    def reconciler(self) -> Reconciler:
        if self._reconciler is None:
            raise RuntimeError("the admin API's lifespan has not started")
        return self._reconciler

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with open_reconciler(self.settings) as reconciler:
            self._reconciler = reconciler
            try:
                yield
            finally:
                self._reconciler = None

    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        return [
            Route("/admin/pages", g(self.add_page), methods=["POST"]),
            Route("/admin/pages", g(self.list_pages), methods=["GET"]),
            Route("/admin/pages/{page_id}", g(self.remove_page), methods=["DELETE"]),
            Route("/admin/pages/{page_id}/sync", g(self.sync_page), methods=["POST"]),
            Route("/admin/pages/{page_id}/subscribe", g(self.subscribe), methods=["POST"]),
            Route("/admin/pages/{page_id}/pause", g(self.pause), methods=["POST"]),
            Route("/admin/pages/{page_id}/resume", g(self.resume), methods=["POST"]),
            Route("/admin/sync-all", g(self.sync_all), methods=["POST"]),
            Route("/admin/sync-runs", g(self.list_runs), methods=["GET"]),
            Route("/admin/sync-runs/{run_id}", g(self.get_run), methods=["GET"]),
            Route("/api/conversations/sync", g(self.compat_sync), methods=["POST"]),
            Route("/api/conversations/sync-all", g(self.compat_sync_all), methods=["POST"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        async def answered(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as exc:
                return _error(400, str(exc))
            except SyncRejected as exc:
                return _error(exc.status_code, str(exc))

        return bearer_required(answered, self.settings.admin.admin_token, self.failures)

    async def add_page(self, request: Request) -> Response:
        wanted = page_request(json_object(await request.body()))
        ciphertext = self.reconciler.ctx.cipher.encrypt(wanted.access_token)
        async with self.reconciler.ctx.pool.acquire() as conn:
            created = await pages.upsert(conn, wanted.page_id, wanted.platform, wanted.name, ciphertext,
                                         wanted.graph_page_id)
            [row] = await pages.public_rows(conn, wanted.page_id)
        return JSONResponse({**compat.jsonable(row), "created": created}, status_code=201)

    async def list_pages(self, request: Request) -> Response:
        async with self.reconciler.ctx.pool.acquire() as conn:
            rows = await pages.public_rows(conn)
        return JSONResponse({"pages": [compat.jsonable(r) for r in rows]})

    async def remove_page(self, request: Request) -> Response:
        async with self.reconciler.ctx.pool.acquire() as conn:
            removed = await pages.remove(conn, page_id(request.path_params["page_id"]))
        return Response(status_code=204) if removed else _error(404, "unknown page")

    async def sync_page(self, request: Request) -> Response:
        mode = sync_mode(json_object(await request.body(), empty_ok=True))
        started = await self.reconciler.start(page_id(request.path_params["page_id"]), mode, "admin")
        if request.query_params.get("wait", "").lower() not in {"1", "true", "yes"}:
            return JSONResponse({"run_id": started.run_id, "mode": started.mode}, status_code=202)
        return JSONResponse(await self.reconciler.finished(started))

    async def subscribe(self, request: Request) -> Response:
        """Check the page's subscription now and repair it (then a `resubscribe` sync starts)."""
        from reconciler.subscriptions import SubscriptionChecker

        found = await SubscriptionChecker(self.reconciler).check(page_id(request.path_params["page_id"]), fix=True)
        return JSONResponse(found.as_json()) if found else _error(404, "unknown page")

    async def pause(self, request: Request) -> Response:
        return await self._set_paused(request, True)

    async def resume(self, request: Request) -> Response:
        return await self._set_paused(request, False)

    async def _set_paused(self, request: Request, paused: bool) -> Response:
        """An active page paused (no syncs; webhooks still stored) or a paused one resumed; 200 with
        the status it has now (a needs_reauth page stays so), 404 for an unknown page."""
        wanted = page_id(request.path_params["page_id"])
        async with self.reconciler.ctx.pool.acquire() as conn:
            status = await pages.set_paused(conn, wanted, paused)
        return JSONResponse({"page_id": wanted, "status": status}) if status else _error(404, "unknown page")

    async def sync_all(self, request: Request) -> Response:
        mode = sync_mode(json_object(await request.body(), empty_ok=True))
        started, skipped = await self.reconciler.start_all(mode, "admin")
        runs_json = [{"run_id": s.run_id, "page_id": s.page_id, "mode": s.mode} for s in started]
        return JSONResponse({"runs": runs_json, "skipped": skipped}, status_code=202)

    async def list_runs(self, request: Request) -> Response:
        wanted = request.query_params.get("page_id")
        async with self.reconciler.ctx.pool.acquire() as conn:
            found = await runs.recent(conn, None if wanted is None else page_id(wanted))
        return JSONResponse({"runs": found})

    async def get_run(self, request: Request) -> Response:
        run_id = compat.run_id_or_none(request.path_params["run_id"])
        async with self.reconciler.ctx.pool.acquire() as conn:
            found = None if run_id is None else await runs.get(conn, run_id)
        return JSONResponse(found) if found else _error(404, "unknown run")

    async def compat_sync(self, request: Request) -> Response:
        try:
            wanted = page_id(compat.requested_page(json_object(await request.body())), "facebookPageId or pageId")
            started = await self.reconciler.start(wanted, "auto", "compat")
        except BadRequest as exc:
            return JSONResponse(compat.error_answer(str(exc)), status_code=400)
        except SyncRejected as exc:
            return JSONResponse(compat.error_answer(str(exc)), status_code=exc.status_code)
        return JSONResponse(compat.sync_answer(await self.reconciler.finished(started)))

    async def compat_sync_all(self, request: Request) -> Response:
        started, skipped = await self.reconciler.start_all("auto", "compat")
        results = [compat.page_result(s.page_id, s.name, await self.reconciler.finished(s)) for s in started]
        return JSONResponse(compat.sync_all_answer(results, skipped))
