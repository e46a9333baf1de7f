"""The gate every Graph call passes through, in Meta's order (no HTTP here; the clock is injected).

1. the object must exist (100/33 otherwise; messages older than the 20-newest window do not);
2. the page token must be present (104), known (190), this page's (10 for another page's token),
   not expired (190/463), with a matching `appsecret_proof` when one is sent (100);
3. the page's token bucket must hold a call (613, or 80006, HTTP 400);
4. a configurable share of calls fails transiently (HTTP 500, code 2, `is_transient`);
5. the answer is rendered and its size charged to the page's work budget (`total_time`).

Runtime knobs live in `GraphControls` (mutable, changed by tests and `/_emulator/...`); counters in
`GraphStats`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator import errors, resolve
from emulator.errors import GraphError
from emulator.limits import PageBudget, Usage
from emulator.model import JSON
from emulator.subscriptions import SubscriptionConfig, Subscriptions
from emulator.world import World


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
    subscriptions: SubscriptionConfig = field(default_factory=SubscriptionConfig)
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
    # page ids whose conversation listings hand back the cursor they were asked with (a paging bug:
    # a client that follows `paging.next` blindly never reaches the end)
    looping_cursors: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: GraphConfig) -> GraphControls:
        burst = config.burst if config.burst is not None else max(1.0, config.calls_per_second)
        return cls(
            config.calls_per_second, burst, config.transient_failure_rate, config.latency_ms, config.jitter_ms
        )


@dataclass(slots=True)
class GraphStats:
    calls: Counter[str] = field(default_factory=Counter)  # per page, every call charged to it
    throttled: Counter[str] = field(default_factory=Counter)
    transient: Counter[str] = field(default_factory=Counter)
    auth_errors: Counter[str] = field(default_factory=Counter)
    profiles: Counter[str] = field(default_factory=Counter)  # per person id, profile reads charged
    requests: int = 0  # HTTP requests (a batch is one)
    batches: int = 0

    def as_json(self) -> JSON:
        return {
            "calls": dict(self.calls),
            "throttled": dict(self.throttled),
            "transient": dict(self.transient),
            "auth_errors": dict(self.auth_errors),
            "profiles": dict(self.profiles),
            "requests": self.requests,
            "batches": self.batches,
        }


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
        self.subscriptions = Subscriptions(world.pages, config.subscriptions)
        self._budgets: dict[str, PageBudget] = {}

    def budget(self, page_id: str) -> PageBudget:
        if page_id not in self._budgets:
            c = self.controls
            self._budgets[page_id] = PageBudget.create(
                c.calls_per_second, c.burst, self.config.work_per_second, self.clock()
            )
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

    def loop_cursors(self, page_id: str, looping: bool = True) -> None:
        self.world.page(page_id)
        (self.controls.looping_cursors.add if looping else self.controls.looping_cursors.discard)(page_id)

    def usage(self, page_ids: set[str]) -> dict[str, Usage]:
        now = self.clock()
        return {p: self.budget(p).usage(now) for p in sorted(page_ids)}

    def trace_id(self) -> str:
        return "A" + "".join(
            self.rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(22)
        )

    def call(self, path: str, params: dict[str, str], link: Callable[[str, dict[str, str]], str],
             method: str = "GET") -> Answer:
        """One Graph call through the gate; never raises for Meta-level errors. The only POST and DELETE
        the emulator answers are a page's `subscribed_apps` (subscribe, unsubscribe)."""
        page_id = None
        try:
            target = resolve.locate(self.world, path)
            account_id, page_id = target.page.page_id, target.page.graph_page_id  # Meta meters the Page
            if method != "GET" and target.kind != "subscribed_apps":
                raise errors.bad_parameter(f"Unsupported {method} request")
            self._authorise(account_id, params)
            self._charge(page_id)
            if target.kind == "profile" and target.conversation is not None:
                self.stats.profiles[target.conversation.user_id] += 1
            if target.kind == "subscribed_apps":
                return Answer(200, self._subscribed_apps(account_id, method, params), page_id)
            payload = resolve.answer(self.world, target, params, self.config.limits, link)
            if account_id in self.controls.looping_cursors and target.kind == "conversations":
                payload = _repeat_cursor(payload, path, params, link)
            self.budget(page_id).work.charge(self.clock(), resolve.work_units(payload))
            return Answer(200, payload, page_id)
        except GraphError as exc:
            return Answer(exc.status, exc.body(self.trace_id()), page_id)

    def _subscribed_apps(self, page_id: str, method: str, params: dict[str, str]) -> JSON:
        if method == "POST":
            self.subscriptions.subscribe(page_id, params.get("subscribed_fields"))
            return {"success": True}
        if method == "DELETE":
            self.subscriptions.unsubscribe(page_id)
            return {"success": True}
        return {"data": self.subscriptions.as_graph(page_id)}

    def _authorise(self, page_id: str, params: dict[str, str]) -> None:
        token, page = params.get("access_token"), self.world.page(page_id)
        if not token:
            raise errors.no_token()
        if not hmac.compare_digest(token, page.access_token):
            self.stats.auth_errors[page_id] += 1
            other_page = any(hmac.compare_digest(token, p.access_token) for p in self.world.pages.values())
            raise errors.no_permission() if other_page else errors.invalid_token()
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


def _repeat_cursor(payload: JSON, path: str, params: dict[str, str],
                   link: Callable[[str, dict[str, str]], str]) -> JSON:
    """A listing page whose `next` asks for this same page again (from the second page on)."""
    paging = payload.get("paging")
    after = params.get("after")
    if after is None or not isinstance(paging, dict) or "next" not in paging:
        return payload
    query = {k: v for k, v in params.items() if k not in {"after", "before"}} | {"after": after}
    return {**payload, "paging": {**paging, "cursors": {**paging["cursors"], "after": after},
                                  "next": link(path, query)}}
