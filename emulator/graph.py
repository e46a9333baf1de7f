"""The Graph API stand-in: an aiohttp app serving `/{version}/...` from the world.

`GET /{version}/{path}`, `POST`/`DELETE /{version}/{page-id}/subscribed_apps` and batch `POST /` (at most 50 calls, each charged like a single call) go
through the gate (`emulator.gate`: tokens, rate limit, transient failures). Every response carries
`X-Business-Use-Case-Usage` (keyed by page id) and `X-App-Usage`; any other path or method answers
Meta's JSON error. Latency (fixed + jitter) is added per HTTP request.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from emulator import errors
from emulator.errors import GraphError
from emulator.gate import Answer, GraphConfig, GraphControls, GraphState, GraphStats
from emulator.limits import app_usage_header, buc_header
from emulator.model import JSON

__all__ = ["GRAPH_KEY", "Answer", "GraphConfig", "GraphControls", "GraphState", "GraphStats", "make_app"]

MAX_BATCH = 50
CONTENT_TYPE = "application/json; charset=UTF-8"


GRAPH_KEY = web.AppKey("graph", GraphState)


def make_app(state: GraphState) -> web.Application:
    app = web.Application(middlewares=[_meta_errors])
    app[GRAPH_KEY] = state
    app.router.add_post("/", _batch)
    app.router.add_post("/{version:v[0-9.]+}", _batch)
    app.router.add_post("/{version:v[0-9.]+}/", _batch)
    app.router.add_get("/{version:v[0-9.]+}/{path:.+}", _get)
    app.router.add_post("/{version:v[0-9.]+}/{path:.+}", _post)
    app.router.add_delete("/{version:v[0-9.]+}/{path:.+}", _post)
    return app


@web.middleware
async def _meta_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown paths and methods answer like Meta (code 100 in Meta's JSON), not with aiohttp's text."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.path.startswith("/_emulator/"):
            raise
        state = request.app[GRAPH_KEY]
        error = errors.bad_parameter(f"Unsupported {request.method} request")
        return _respond(state, error.status, error.body(state.trace_id()), set())


def _linker(request: web.Request, params: dict[str, str]) -> Callable[[str, dict[str, str]], str]:
    version = request.match_info.get("version", "v25.0")
    carried = {k: params[k] for k in ("access_token", "appsecret_proof") if k in params}

    def link(path: str, query: dict[str, str]) -> str:
        return f"{request.scheme}://{request.host}/{version}/{path}?{urlencode(carried | query)}"

    return link


async def _get(request: web.Request) -> web.Response:
    state = request.app[GRAPH_KEY]
    state.stats.requests += 1
    params = dict(request.query)
    await _delay(state)
    answer = state.call(request.match_info["path"], params, _linker(request, params))
    pages = {answer.page_id} if answer.page_id else set()
    return _respond(state, answer.status, answer.body, pages)


async def _post(request: web.Request) -> web.Response:
    """POST or DELETE of one object (a page's `subscribed_apps`); parameters in the query or the form."""
    state = request.app[GRAPH_KEY]
    state.stats.requests += 1
    params = {k: str(v) for k, v in (await request.post()).items()} | dict(request.query)
    await _delay(state)
    answer = state.call(request.match_info["path"], params, _linker(request, params), request.method)
    pages = {answer.page_id} if answer.page_id else set()
    return _respond(state, answer.status, answer.body, pages)


async def _batch(request: web.Request) -> web.Response:
    state = request.app[GRAPH_KEY]
    state.stats.requests += 1
    state.stats.batches += 1
    form = await _form(request)
    await _delay(state)
    try:
        items = _batch_items(form.get("batch"))
    except GraphError as exc:
        return _respond(state, exc.status, exc.body(state.trace_id()), set())
    results, pages = [], set()
    for item in items:
        path, params = _relative(item, form)
        if str(item.get("method", "GET")).upper() != "GET":
            error = errors.bad_parameter("The emulator answers GET requests in a batch only")
            answer = Answer(error.status, error.body(state.trace_id()), None)
        else:
            answer = state.call(path, params, _linker(request, params))
        pages |= {answer.page_id} if answer.page_id else set()
        headers = [{"name": "Content-Type", "value": CONTENT_TYPE}]
        results.append({"code": answer.status, "headers": headers, "body": json.dumps(answer.body)})
    return _respond(state, 200, results, pages)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return {}  # the batch check answers Meta's error
        if not isinstance(body, dict):
            return {}
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return {k: str(v) for k, v in (await request.post()).items()} | dict(request.query)


def _batch_items(raw: str | None) -> list[JSON]:
    try:
        items = json.loads(raw or "")
    except ValueError:
        raise errors.bad_parameter("batch parameter must be a JSON array") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise errors.bad_parameter("batch parameter must be a JSON array")
    if len(items) > MAX_BATCH:
        raise errors.batch_too_large(MAX_BATCH)
    return items


def _relative(item: JSON, form: dict[str, str]) -> tuple[str, dict[str, str]]:
    url = urlsplit(str(item.get("relative_url", "")).lstrip("/"))
    parts = url.path.split("/")
    path = "/".join(parts[1:]) if parts and parts[0][:1] == "v" and parts[0][1:2].isdigit() else url.path
    params = dict(parse_qsl(url.query))
    for key in ("access_token", "appsecret_proof"):
        if key not in params and key in form:
            params[key] = form[key]
    return path, params


async def _delay(state: GraphState) -> None:
    c = state.controls
    seconds = (c.latency_ms + state.rng.uniform(0, c.jitter_ms)) / 1000 if c.latency_ms or c.jitter_ms else 0.0
    if seconds > 0:
        await asyncio.sleep(seconds)


def _respond(state: GraphState, status: int, body: object, pages: set[str]) -> web.Response:
    usage = state.usage(pages)
    headers = {
        "X-Business-Use-Case-Usage": buc_header(usage),
        "X-App-Usage": app_usage_header(usage),
        "x-fb-trace-id": state.trace_id(),
        # Meta's clock, like every Meta answer: the reconciler orders its readings by it
        "Date": email.utils.formatdate(state.world.read_ms() / 1000, usegmt=True),
    }
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", charset="utf-8", headers=headers
    )
