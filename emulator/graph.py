"""The Graph API stand-in: an aiohttp app serving `/{version}/...` from the world.

Every call goes through the same gate, in Meta's order: the object must exist, the page token must be
valid (104 missing, 190 invalid, 190/463 expired) with a matching `appsecret_proof` when one is sent,
the page's token bucket must have a call left (613 or 80006, HTTP 400), then a configurable share of
calls fails transiently (HTTP 500, code 2). Each response carries `X-Business-Use-Case-Usage` (keyed by
page id) and `X-App-Usage`. `POST /` runs a batch of at most 50 calls, each charged like a single call.

Runtime knobs live in `GraphControls` (mutable, changed by tests and `/_emulator/...`); counters in
`GraphStats`. The clock is injectable so rate-limit tests need no sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from emulator import errors, resolve
from emulator.errors import GraphError
from emulator.limits import PageBudget, Usage, app_usage_header, buc_header
from emulator.model import JSON
from emulator.world import World

MAX_BATCH = 50
CONTENT_TYPE = "application/json; charset=UTF-8"


@dataclass(frozen=True, slots=True)
class GraphConfig:
    calls_per_second: float = 2.0  # per page, like Meta's conversations API
    burst: float | None = None  # bucket size; None: one second's worth (at least 1)
    throttle_code: int = 613  # or 80006 (Messenger BUC)
    transient_failure_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    limits: resolve.Limits = field(default_factory=resolve.Limits)
    app_secret: str | None = field(default=None, repr=False)  # checks `appsecret_proof` when sent
    work_per_second: float = 500.0  # objects rendered per second before total_time reaches 100%
    seed: int = 0  # for jitter, transient failures and trace ids (not the world)


@dataclass(slots=True)
class GraphControls:
    """What tests and the control endpoints change at run time."""

    calls_per_second: float
    burst: float
    transient_failure_rate: float
    latency_ms: float
    jitter_ms: float
    expired: set[str] = field(default_factory=set)  # page ids whose current token is expired

    @classmethod
    def from_config(cls, config: GraphConfig) -> GraphControls:
        burst = config.burst if config.burst is not None else max(1.0, config.calls_per_second)
        return cls(config.calls_per_second, burst, config.transient_failure_rate, config.latency_ms, config.jitter_ms)


@dataclass(slots=True)
class GraphStats:
    calls: Counter[str] = field(default_factory=Counter)  # per page, every call charged to it
    throttled: Counter[str] = field(default_factory=Counter)
    transient: Counter[str] = field(default_factory=Counter)
    auth_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0  # HTTP requests (a batch is one)
    batches: int = 0

    def as_json(self) -> JSON:
        return {"calls": dict(self.calls), "throttled": dict(self.throttled), "transient": dict(self.transient),
                "auth_errors": dict(self.auth_errors), "requests": self.requests, "batches": self.batches}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: JSON
    page_id: str | None


class GraphState:
    """The world plus the gate every call passes through."""

    def __init__(self, world: World, config: GraphConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.world, self.config, self.clock = world, config, clock
        self.controls = GraphControls.from_config(config)
        self.stats = GraphStats()
        self.rng = random.Random(config.seed)
        self._budgets: dict[str, PageBudget] = {}

    def budget(self, page_id: str) -> PageBudget:
        if page_id not in self._budgets:
            c = self.controls
            self._budgets[page_id] = PageBudget.create(c.calls_per_second, c.burst, self.config.work_per_second, self.clock())
        return self._budgets[page_id]

    def set_rate(self, calls_per_second: float, burst: float | None = None) -> None:
        self.controls.calls_per_second = calls_per_second
        self.controls.burst = burst if burst is not None else max(1.0, calls_per_second)
        for budget in self._budgets.values():
            budget.calls.set_rate(self.controls.calls_per_second, self.controls.burst, self.clock())

    def expire_token(self, page_id: str) -> None:
        self.world.page(page_id)
        self.controls.expired.add(page_id)

    def set_token(self, page_id: str, token: str) -> None:
        self.world.set_token(page_id, token)
        self.controls.expired.discard(page_id)

    def usage(self, page_ids: set[str]) -> dict[str, Usage]:
        now = self.clock()
        return {p: self.budget(p).usage(now) for p in sorted(page_ids)}

    def trace_id(self) -> str:
        return "A" + "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(22))

    def call(self, path: str, params: dict[str, str], link: Callable[[str, dict[str, str]], str]) -> Answer:
        """One Graph call through the gate; never raises for Meta-level errors."""
        page_id = None
        try:
            target = resolve.locate(self.world, path)
            page_id = target.page.page_id
            self._authorise(page_id, params)
            self._charge(page_id)
            payload = resolve.answer(self.world, target, params, self.config.limits, link)
            self.budget(page_id).work.charge(self.clock(), resolve.work_units(payload))
            return Answer(200, payload, page_id)
        except GraphError as exc:
            return Answer(exc.status, exc.body(self.trace_id()), page_id)

    def _authorise(self, page_id: str, params: dict[str, str]) -> None:
        token, page = params.get("access_token"), self.world.page(page_id)
        if not token:
            raise errors.no_token()
        if not hmac.compare_digest(token, page.access_token):
            self.stats.auth_errors[page_id] += 1
            raise errors.invalid_token()
        if page_id in self.controls.expired:
            self.stats.auth_errors[page_id] += 1
            raise errors.expired_token()
        proof = params.get("appsecret_proof")
        if proof is not None and self.config.app_secret is not None:
            expected = hmac.new(self.config.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                raise errors.bad_proof()

    def _charge(self, page_id: str) -> None:
        self.stats.calls[page_id] += 1
        if not self.budget(page_id).calls.take(self.clock()):
            self.stats.throttled[page_id] += 1
            raise errors.throttled(self.config.throttle_code)
        if self.rng.random() < self.controls.transient_failure_rate:
            self.stats.transient[page_id] += 1
            raise errors.transient()


GRAPH_KEY = web.AppKey("graph", GraphState)


def make_app(state: GraphState) -> web.Application:
    app = web.Application()
    app[GRAPH_KEY] = state
    app.router.add_post("/", _batch)
    app.router.add_post("/{version:v[0-9.]+}", _batch)
    app.router.add_post("/{version:v[0-9.]+}/", _batch)
    app.router.add_get("/{version:v[0-9.]+}/{path:.+}", _get)
    return app


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
        answer = state.call(path, params, _linker(request, params))
        pages |= {answer.page_id} if answer.page_id else set()
        headers = [{"name": "Content-Type", "value": CONTENT_TYPE}]
        results.append({"code": answer.status, "headers": headers, "body": json.dumps(answer.body)})
    return _respond(state, 200, results, pages)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        body = await request.json()
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
    }
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", charset="utf-8", headers=headers)
