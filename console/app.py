"""The operator's console (DESIGN §4): server-rendered pages under /admin/console, composed into `convsync serve`.

    console = Console(settings, admin, replays, failures)
    create_app(settings, extra_routes=console.routes(), extra_lifespans=[..., console.lifespan])

Who gets in: a login form takes the admin token (compared in constant time, never stored, failures
rate-limited with the admin API's own `FailedAuth`), then a session cookie (`console.sessions`):
HttpOnly, SameSite=Strict, Path=/admin/console, Secure over HTTPS or always with
CONVSYNC_CONSOLE_SECURE_COOKIE, expiring after CONVSYNC_CONSOLE_SESSION_S. Without a live session
every page answers the login form (401) and every action does nothing. Every form POST carries the
session's CSRF token and must come from this origin; else 403 and nothing changes. Pages are
`no-store`, may not be framed, and load nothing from elsewhere (a Content-Security-Policy says so).

The actions are the admin API's own (`AdminApi`, `ReplayApi`): a sync, a subscription repair, pause
and resume, a replay; each writes one `admin_action` log line like the API's (`via` console).
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from urllib.parse import parse_qs
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from console import figures, humanize, paging, sessions
from console.sessions import Session
from console.system import SystemView
from ingest.app import Edge
from kernel.bearer import FailedAuth, bearer_matches, fingerprint
from kernel.settings import Secret, Settings
from reconciler import pages
from reconciler.admin import AdminApi
from reconciler.requests import BadRequest, page_id
from reconciler.service import SyncRejected
from replay.admin import ReplayApi
from replay.window import SelectionError, from_json

log = structlog.get_logger("convsync.console")
PREFIX = "/admin/console"
MAX_FORM_BYTES = 16_384
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
RUN_STATUSES = ("queued", "running", "succeeded", "failed")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
NOTICES = {
    "sync": "Sync started.", "subscribe": "Subscription checked.", "pause": "Page paused.",
    "resume": "Page resumed.", "login": "Logged in.",
}

View = Callable[[Request, Session], Awaitable[Response]]


class Console:
    def __init__(self, settings: Settings, admin: AdminApi, replays: ReplayApi, failures: FailedAuth) -> None:
        self.settings = settings
        self.admin = admin
        self.replays = replays
        self.failures = failures
        self.token: Secret | None = settings.admin.admin_token
        self.templates = Environment(loader=PackageLoader("console", "templates"),
                                     autoescape=select_autoescape(default=True), auto_reload=False)
        self.templates.filters.update(humanize.FILTERS)
        self._system: SystemView | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        edge: Edge = app.state.edge
        self._system = SystemView(edge, self.settings)
        try:
            yield
        finally:
            system, self._system = self._system, None
            await system.close()

    @property
    def system(self) -> SystemView:
        if self._system is None:
            raise RuntimeError("the console's lifespan has not started")
        return self._system

    def routes(self) -> list[BaseRoute]:
        v, a = self._view, self._action
        return [
            Route(PREFIX, v(self.pages_view), methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", self.logout, methods=["POST"]),
            Route(f"{PREFIX}/static/{{name}}", self.static, methods=["GET"]),
            Route(f"{PREFIX}/pages/{{page_id}}", v(self.page_view), methods=["GET"]),
            Route(f"{PREFIX}/pages/{{page_id}}/sync", a(self.sync), methods=["POST"]),
            Route(f"{PREFIX}/pages/{{page_id}}/subscribe", a(self.subscribe), methods=["POST"]),
            Route(f"{PREFIX}/pages/{{page_id}}/pause", a(self.pause), methods=["POST"]),
            Route(f"{PREFIX}/pages/{{page_id}}/resume", a(self.resume), methods=["POST"]),
            Route(f"{PREFIX}/runs", v(self.runs_view), methods=["GET"]),
            Route(f"{PREFIX}/dlq", v(self.dlq_view), methods=["GET"]),
            Route(f"{PREFIX}/replays", a(self.replay), methods=["POST"]),
            Route(f"{PREFIX}/replays/{{replay_id}}", v(self.replay_view), methods=["GET"]),
            Route(f"{PREFIX}/system", v(self.system_view), methods=["GET"]),
        ]

    # -- who gets in ---------------------------------------------------------------------------------

    def _view(self, view: View) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            session = await self._session(request)
            return await view(request, session) if session else self._login_form(request, status=401)
        return guarded

    def _action(self, view: View) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            session = await self._session(request)
            if session is None:
                return self._login_form(request, status=401)
            form = await form_of(request)
            if not sessions.csrf_ok(session, form.get("csrf")) or not _same_origin(request):
                log.warning("console_csrf_refused", client=_client(request), path=request.url.path)
                return self._render(request, "refused.html", None, status=403)
            try:
                response = await view(request, session)
            except BadRequest as exc:
                response = self._problem(request, session, str(exc), 400)
            except SyncRejected as exc:  # unknown page, paused or busy, no CONVSYNC_APP_ID
                response = self._problem(request, session, str(exc), exc.status_code)
            log.info("admin_action", action=f"POST {request.url.path}", via="console",
                     page_id=request.path_params.get("page_id"), token=self._fingerprint(), client=_client(request),
                     status=response.status_code)
            return response
        return guarded

    async def _session(self, request: Request) -> Session | None:
        if self.token is None:
            return None
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            return await sessions.find(conn, request.cookies.get(sessions.COOKIE), self.token)

    def _fingerprint(self) -> str:
        return fingerprint(self.token) if self.token else ""

    async def login(self, request: Request) -> Response:
        client = _client(request)
        wait_s = self.failures.retry_after_s(client)
        if wait_s > 0:
            return self._login_form(request, status=429, error="Too many failed attempts; try again later.",
                                    headers={"Retry-After": str(math.ceil(wait_s))})
        form = await form_of(request)
        given = form.get("token")
        if self.token is None or not isinstance(given, str) or not bearer_matches(f"Bearer {given}", self.token):
            self.failures.failed(client)
            log.warning("admin_auth_failed", client=client, path=request.url.path, via="console")
            return self._login_form(request, status=401, error="That is not the admin token.")
        issued = sessions.issue()
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            await sessions.create(conn, issued, self.token, client, self.settings.admin.console_session_s)
        log.info("console_login", client=client, token=self._fingerprint())
        response = RedirectResponse(PREFIX, status_code=303)
        response.set_cookie(sessions.COOKIE, issued.cookie, max_age=self.settings.admin.console_session_s,
                            path=sessions.COOKIE_PATH, httponly=True, samesite="strict",
                            secure=self.settings.admin.console_secure_cookie or request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        session = await self._session(request)
        form = await form_of(request)
        if session is not None and sessions.csrf_ok(session, form.get("csrf")) and _same_origin(request):
            async with self.admin.reconciler.ctx.pool.acquire() as conn:
                await sessions.end(conn, request.cookies.get(sessions.COOKIE))
            log.info("console_logout", client=_client(request), token=self._fingerprint())
        response = RedirectResponse(PREFIX, status_code=303)
        response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH, httponly=True, samesite="strict")
        return response

    # -- views ----------------------------------------------------------------------------------------

    async def pages_view(self, request: Request, session: Session) -> Response:
        """A window of PAGE_SIZE pages, those needing attention first; `q` filters by name or id."""
        search = request.query_params.get("q", "").strip()[:200] or None
        offset = paging.offset_of(request.query_params.get("offset"))
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            rows = await figures.pages_overview(conn, search=search, limit=paging.PAGE_SIZE, offset=offset)
            total, attention = await figures.pages_count(conn)
        matching = int(rows[0]["matching"]) if rows else 0
        return self._render(request, "pages.html", session, pages=rows, system=await self.system.figures(),
                            live=True, search=search or "", total=total, attention=attention,
                            window=paging.window(offset, len(rows), matching))

    async def page_view(self, request: Request, session: Session) -> Response:
        wanted = request.path_params["page_id"]
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            found = await figures.pages_overview(conn, wanted)
            if not found:
                return self._render(request, "missing.html", session, what="page", status=404)
            recent_runs = await figures.runs(conn, wanted, None, 20)
            conversations = await figures.recent_conversations(conn, wanted, 25)
        return self._render(request, "page.html", session, page=found[0], runs=recent_runs,
                            conversations=conversations, live=True)

    async def runs_view(self, request: Request, session: Session) -> Response:
        wanted_page = request.query_params.get("page_id") or None
        wanted_status = request.query_params.get("status") or None
        if wanted_status not in (None, *RUN_STATUSES):
            wanted_status = None
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            found = await figures.runs(conn, wanted_page, wanted_status, 100)
        return self._render(request, "runs.html", session, runs=found, page_id=wanted_page or "",
                            wanted_status=wanted_status or "", statuses=RUN_STATUSES, live=True)

    async def dlq_view(self, request: Request, session: Session) -> Response:
        replays = await self.replays.replays.recent(10)
        return self._render(request, "dlq.html", session, letters=await self.system.dead_letters(), replays=replays)

    async def replay_view(self, request: Request, session: Session) -> Response:
        try:
            found = await self.replays.replays.get(str(uuid.UUID(request.path_params["replay_id"])))
        except ValueError:
            found = None
        if found is None:
            return self._render(request, "missing.html", session, what="replay", status=404)
        return self._render(request, "replay.html", session, replay=found, live=found.get("status") == "running")

    async def system_view(self, request: Request, session: Session) -> Response:
        return self._render(request, "system.html", session, system=await self.system.figures(), live=True)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("Not Found", status_code=404)
        body = (resources.files("console") / "static" / name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "max-age=300",
                                                                "X-Content-Type-Options": "nosniff"})

    # -- actions --------------------------------------------------------------------------------------

    async def sync(self, request: Request, session: Session) -> Response:
        form = await form_of(request)
        mode = form.get("mode")
        if mode not in ("auto", "full"):
            return self._problem(request, session, "mode must be auto or full", 400)
        started = await self.admin.reconciler.start(page_id(request.path_params["page_id"]),
                                                     "full" if mode == "full" else "auto", "console")
        return _see(f"{PREFIX}/runs?page_id={started.page_id}&notice=sync")

    async def subscribe(self, request: Request, session: Session) -> Response:
        from reconciler.subscriptions import SubscriptionChecker

        found = await SubscriptionChecker(self.admin.reconciler).check(page_id(request.path_params["page_id"]),
                                                                       fix=True)
        if found is None:
            return self._render(request, "missing.html", session, what="page", status=404)
        return _see(f"{PREFIX}?notice=subscribe")

    async def pause(self, request: Request, session: Session) -> Response:
        return await self._set_paused(request, session, True)

    async def resume(self, request: Request, session: Session) -> Response:
        return await self._set_paused(request, session, False)

    async def _set_paused(self, request: Request, session: Session, paused: bool) -> Response:
        async with self.admin.reconciler.ctx.pool.acquire() as conn:
            status = await pages.set_paused(conn, page_id(request.path_params["page_id"]), paused)
        if status is None:
            return self._render(request, "missing.html", session, what="page", status=404)
        return _see(f"{PREFIX}?notice={'pause' if paused else 'resume'}")

    async def replay(self, request: Request, session: Session) -> Response:
        form = await form_of(request)
        wanted: dict[str, Any] = {"from": form.get("from"), "dry_run": form.get("dry_run") == "true"}
        if form.get("page_id"):
            wanted["page_id"] = form.get("page_id")
        try:
            selection = from_json(wanted, now_ms=int(time.time() * 1000))
        except SelectionError as exc:
            return self._problem(request, session, str(exc), 400)
        replay_id = await self.replays.replays.start(selection, "console")
        return _see(f"{PREFIX}/replays/{replay_id}")

    # -- rendering ------------------------------------------------------------------------------------

    def _render(self, request: Request, template: str, session: Session | None, *, status: int = 200,
                headers: dict[str, str] | None = None, **context: Any) -> Response:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        html = self.templates.get_template(template).render(
            prefix=PREFIX, csrf=session.csrf_token if session else "", signed_in=session is not None,
            notice=notice, **context)
        return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})

    def _login_form(self, request: Request, *, status: int, error: str | None = None,
                    headers: dict[str, str] | None = None) -> Response:
        return self._render(request, "login.html", None, status=status, error=error, headers=headers)

    def _problem(self, request: Request, session: Session, message: str, status: int) -> Response:
        return self._render(request, "problem.html", session, message=message, status=status)


async def form_of(request: Request) -> dict[str, str]:
    """The console's forms are URL-encoded and small: their fields (first value of each); anything
    else reads as an empty form, which every action refuses (no CSRF token)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if kind != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items()}


def _see(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    """A form POST from this console: its Origin (when the browser sends one) is this host."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
