"""`/_emulator/...`: the runtime controls over HTTP, for tests where the emulator is its own process.

The routes mirror the Python controls of `emulator.runner.Emulator` one to one:

- `GET  /_emulator/pages` — pages with platform, name and (fake) access token, to register them
- `GET  /_emulator/stats` — Graph counters, and webhook delivery counters when a sender runs
- `GET  /_emulator/truth` — the ground truth (`emulator.truth.expected`) as JSON (`Expected.from_json`)
- `GET  /_emulator/deliveries` — every webhook event sent so far, split into `delivered` (got a 2xx)
  and `lost` (dropped on purpose, or failed after retries)
- `POST /_emulator/pages/{page_id}/expire-token`, `POST /_emulator/pages/{page_id}/token` `{"token"}`
- `POST /_emulator/rate` `{"calls_per_second", "burst"?}`, `POST /_emulator/transient` `{"rate"}`,
  `POST /_emulator/latency` `{"latency_ms", "jitter_ms"?}`
- `POST /_emulator/webhooks` `{"loss"?, "duplicate"?, "reorder"?}`, `POST /_emulator/traffic` `{"rate"}`
- `POST /_emulator/pages/{page_id}/unsubscribe`, `POST /_emulator/pages/{page_id}/drop-field` `{"field"}`:
  the app stops receiving the page's webhooks (all, or one field's), as Meta does on its own
- `POST /_emulator/people/{user_id}/block` `{"blocked"?: true}`: the person blocks (or unblocks) the
  page, and Meta refuses their profile
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from emulator import truth
from emulator.model import JSON
from emulator.world import UnknownObject, World


class Controls(Protocol):
    @property
    def world(self) -> World: ...
    def expire_token(self, page_id: str) -> None: ...
    def set_token(self, page_id: str, token: str) -> None: ...
    def set_rate(self, calls_per_second: float, burst: float | None = None) -> None: ...
    def set_transient_failure_rate(self, rate: float) -> None: ...
    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None: ...
    def set_webhook_faults(
        self, *, loss: float | None = None, duplicate: float | None = None, reorder: float | None = None
    ) -> None: ...
    def set_traffic_rate(self, changes_per_second: float) -> None: ...
    def unsubscribe(self, page_id: str) -> None: ...
    def drop_field(self, page_id: str, name: str) -> None: ...
    def stats_json(self) -> JSON: ...
    def deliveries_json(self) -> JSON: ...


CONTROLS_KEY = web.AppKey("emulator_controls", Controls)
Handler = Callable[[Controls, web.Request, JSON], Awaitable[JSON]]


def add_routes(app: web.Application, controls: Controls) -> None:
    app[CONTROLS_KEY] = controls
    app.router.add_get("/_emulator/pages", _read(lambda c: _pages(c.world)))
    app.router.add_get("/_emulator/stats", _read(lambda c: c.stats_json()))
    app.router.add_get("/_emulator/truth", _read(lambda c: truth.expected(c.world).as_json()))
    app.router.add_get("/_emulator/deliveries", _read(lambda c: c.deliveries_json()))
    app.router.add_post("/_emulator/pages/{page_id}/expire-token", _write(_expire))
    app.router.add_post("/_emulator/pages/{page_id}/token", _write(_token))
    app.router.add_post("/_emulator/rate", _write(_rate))
    app.router.add_post("/_emulator/transient", _write(_transient))
    app.router.add_post("/_emulator/latency", _write(_latency))
    app.router.add_post("/_emulator/webhooks", _write(_webhooks))
    app.router.add_post("/_emulator/traffic", _write(_traffic))
    app.router.add_post("/_emulator/pages/{page_id}/unsubscribe", _write(_unsubscribe))
    app.router.add_post("/_emulator/pages/{page_id}/drop-field", _write(_drop_field))
    app.router.add_post("/_emulator/people/{user_id}/block", _write(_block))


def _pages(world: World) -> list[JSON]:
    return [
        {"page_id": p.page_id, "graph_page_id": p.graph_page_id, "platform": p.platform, "name": p.name,
         "access_token": p.access_token}
        for p in world.pages.values()
    ]


def _read(view: Callable[[Controls], object]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response(view(request.app[CONTROLS_KEY]))

    return handle


def _write(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """JSON object in, `{"ok": true}` out; bad input 400, unknown page 404, no sender/traffic 409."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        try:
            return web.json_response(await handler(request.app[CONTROLS_KEY], request, body))
        except UnknownObject:
            raise web.HTTPNotFound(text="no such page") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad control request: {exc}") from None
        except RuntimeError as exc:
            raise web.HTTPConflict(text=str(exc)) from None

    return handle


def _number(body: JSON, name: str) -> float | None:
    return None if body.get(name) is None else float(body[name])


async def _expire(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.expire_token(request.match_info["page_id"])
    return {"ok": True}


async def _token(c: Controls, request: web.Request, body: JSON) -> JSON:
    if not isinstance(body.get("token"), str) or not body["token"]:
        raise ValueError("token must be a non-empty string")
    c.set_token(request.match_info["page_id"], body["token"])
    return {"ok": True}


async def _rate(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.set_rate(float(body["calls_per_second"]), _number(body, "burst"))
    return {"ok": True}


async def _transient(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.set_transient_failure_rate(float(body["rate"]))
    return {"ok": True}


async def _latency(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.set_latency(float(body["latency_ms"]), _number(body, "jitter_ms") or 0.0)
    return {"ok": True}


async def _webhooks(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.set_webhook_faults(
        loss=_number(body, "loss"), duplicate=_number(body, "duplicate"), reorder=_number(body, "reorder")
    )
    return {"ok": True}


async def _traffic(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.set_traffic_rate(float(body["rate"]))
    return {"ok": True}


async def _unsubscribe(c: Controls, request: web.Request, body: JSON) -> JSON:
    c.unsubscribe(request.match_info["page_id"])
    return {"ok": True}


async def _drop_field(c: Controls, request: web.Request, body: JSON) -> JSON:
    if not isinstance(body.get("field"), str):
        raise ValueError("field must be a string")
    c.drop_field(request.match_info["page_id"], body["field"])
    return {"ok": True}


async def _block(c: Controls, request: web.Request, body: JSON) -> JSON:
    if not isinstance(body.get("blocked", True), bool):
        raise ValueError("blocked must be true or false")
    c.world.block(request.match_info["user_id"], body.get("blocked", True))
    return {"ok": True}
