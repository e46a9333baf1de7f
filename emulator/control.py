"""`/_emulator/...`: the runtime controls over HTTP, for tests where the emulator is its own process.

- `GET  /_emulator/pages` — pages with platform, name and (fake) access token, to register them
- `GET  /_emulator/stats` — Graph counters (and webhook delivery counters when traffic runs)
- `GET  /_emulator/truth` — the ground truth (`emulator.truth.expected`) as JSON
- `POST /_emulator/pages/{page_id}/expire-token`, `POST /_emulator/pages/{page_id}/token` `{"token"}`
- `POST /_emulator/rate` `{"calls_per_second", "burst"?}`, `POST /_emulator/transient` `{"rate"}`,
  `POST /_emulator/latency` `{"latency_ms", "jitter_ms"?}`
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from emulator import truth
from emulator.graph import GRAPH_KEY, GraphState
from emulator.model import JSON
from emulator.world import UnknownObject

StatsSource = Callable[[], JSON]
STATS_KEY = web.AppKey("control_stats", object)


def add_routes(app: web.Application, state: GraphState, extra_stats: StatsSource | None = None) -> None:
    app[STATS_KEY] = extra_stats
    app.router.add_get("/_emulator/pages", _pages)
    app.router.add_get("/_emulator/stats", _stats)
    app.router.add_get("/_emulator/truth", _truth)
    app.router.add_post("/_emulator/pages/{page_id}/expire-token", _expire)
    app.router.add_post("/_emulator/pages/{page_id}/token", _token)
    app.router.add_post("/_emulator/rate", _rate)
    app.router.add_post("/_emulator/transient", _transient)
    app.router.add_post("/_emulator/latency", _latency)


def _state(request: web.Request) -> GraphState:
    return request.app[GRAPH_KEY]


async def _pages(request: web.Request) -> web.Response:
    pages = _state(request).world.pages.values()
    return web.json_response([{"page_id": p.page_id, "platform": p.platform, "name": p.name,
                               "access_token": p.access_token} for p in pages])


async def _stats(request: web.Request) -> web.Response:
    body = {"graph": _state(request).stats.as_json()}
    extra = request.app[STATS_KEY]
    if callable(extra):
        body |= extra()
    return web.json_response(body)


async def _truth(request: web.Request) -> web.Response:
    return web.json_response(truth.expected(_state(request).world).as_json())


async def _body(request: web.Request) -> JSON:
    body = await request.json() if request.can_read_body else {}
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _expire(request: web.Request) -> web.Response:
    try:
        _state(request).expire_token(request.match_info["page_id"])
    except UnknownObject:
        raise web.HTTPNotFound(text="no such page") from None
    return web.json_response({"ok": True})


async def _token(request: web.Request) -> web.Response:
    token = (await _body(request)).get("token")
    if not isinstance(token, str) or not token:
        raise web.HTTPBadRequest(text="token must be a non-empty string")
    try:
        _state(request).set_token(request.match_info["page_id"], token)
    except UnknownObject:
        raise web.HTTPNotFound(text="no such page") from None
    return web.json_response({"ok": True})


async def _rate(request: web.Request) -> web.Response:
    body = await _body(request)
    _state(request).set_rate(float(body["calls_per_second"]), float(body["burst"]) if "burst" in body else None)
    return web.json_response({"ok": True})


async def _transient(request: web.Request) -> web.Response:
    _state(request).controls.transient_failure_rate = float((await _body(request))["rate"])
    return web.json_response({"ok": True})


async def _latency(request: web.Request) -> web.Response:
    body = await _body(request)
    controls = _state(request).controls
    controls.latency_ms, controls.jitter_ms = float(body["latency_ms"]), float(body.get("jitter_ms", 0.0))
    return web.json_response({"ok": True})
