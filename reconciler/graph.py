"""The Graph API client: one GET at a time per page through its governor, retried by the classifier.

Every call carries `appsecret_proof` (HMAC-SHA256 of the page token keyed by the app secret). The
token travels only in the query string of the request; it is never in an exception, a log line or a
stored error, because errors are built from Meta's message or the exception's class name only.

Errors (what the caller does next):
    GraphError
    ├── TokenDead       mark the page needs_reauth, stop calling it (webhooks keep flowing)
    ├── GraphPermanent  fail the run; retrying cannot help
    └── GraphGaveUp     transient failures or throttles outlasted the retry budget: fail the run,
                        the watermark stays, the next run starts from it
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from kernel.settings import GraphSettings, Secret
from reconciler.classify import Verdict, VerdictKind, classify
from reconciler.governor import Governors, PageGovernor
from reconciler.retry import Attempts, RetryPolicy
from reconciler.usage import app_percent, parse_usage


class GraphError(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.kind}: {verdict.message}" + (f" (code {verdict.code})" if verdict.code else ""))
        self.verdict = verdict


class TokenDead(GraphError):
    """Meta rejected the page token (190): the page needs a new one."""


class GraphPermanent(GraphError):
    """A request Meta will never answer as asked."""


class GraphGaveUp(GraphError):
    """Retries exhausted on transient failures or throttles."""


@dataclass(slots=True)
class CallStats:
    """What one run spent: calls made (every attempt counts) and how many came back throttled."""

    calls: int = 0
    throttled: int = 0
    answer_s: float = 0.0  # summed time from request sent to answer read (Meta's side of the clock)


@dataclass(frozen=True, slots=True)
class Answer:
    body: Mapping[str, Any]
    params: Mapping[str, str]  # as finally sent (a shrunk `limit` stays shrunk for the next page)
    meta_time_ms: int | None = None  # the answer's `Date`: when Meta read what it returned, on Meta's clock


def meta_time_ms(headers: Mapping[str, str]) -> int | None:
    """The `Date` header in epoch ms (second resolution), or None when absent or malformed."""
    try:
        return int(email.utils.parsedate_to_datetime(headers["Date"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def appsecret_proof(token: Secret, app_secret: Secret) -> str:
    return hmac.new(app_secret.reveal().encode(), token.reveal().encode(), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class GraphClient:
    settings: GraphSettings
    session: aiohttp.ClientSession
    governors: Governors
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rand: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # After "reduce the amount of data": the largest limit Meta accepted for a query shape (its fields).
    learned_limit: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.settings.url}/{self.settings.version}/{path.lstrip('/')}"

    async def get(
        self, page_id: str, token: Secret, path: str, params: Mapping[str, str], stats: CallStats
    ) -> Answer:
        """GET one Graph object or listing page for `page_id`, waiting, retrying or raising as classified."""
        return await self.request("GET", page_id, token, path, params, stats)

    async def post(
        self, page_id: str, token: Secret, path: str, params: Mapping[str, str], stats: CallStats
    ) -> Answer:
        """POST to a Graph edge of `page_id` (such as `subscribed_apps`), paced and retried like a GET:
        the edges convsync posts to are idempotent."""
        return await self.request("POST", page_id, token, path, params, stats)

    async def request(
        self, method: str, page_id: str, token: Secret, path: str, params: Mapping[str, str], stats: CallStats
    ) -> Answer:
        governor, attempts, sent = self.governors.for_page(page_id), Attempts(), self._within_learned(params)
        while True:
            await governor.turn()
            sent_at = time.perf_counter()
            verdict, body, read_at = await self._attempt(method, governor, page_id, token, path, sent)
            stats.calls, stats.answer_s = stats.calls + 1, stats.answer_s + time.perf_counter() - sent_at
            if verdict.kind == "ok":
                return Answer(body, sent, read_at)
            stats.throttled += verdict.kind == "throttled"
            attempts = attempts.after(verdict)
            await self._recover(governor, verdict, attempts, sent)
            if verdict.kind == "too_much_data":
                self.learned_limit[sent.get("fields", "")] = int(sent["limit"])

    def _within_learned(self, params: Mapping[str, str]) -> dict[str, str]:
        """The params, with `limit` no larger than Meta accepted for the same fields before: the data
        budget depends on the query's shape, so one page's lesson spares every page the code-1 call."""
        sent = dict(params)
        learned = self.learned_limit.get(sent.get("fields", ""))
        if learned is not None and "limit" in sent and int(sent["limit"]) > learned:
            sent["limit"] = str(learned)
        return sent

    async def _recover(self, governor: PageGovernor, verdict: Verdict, attempts: Attempts, sent: dict[str, str]) -> None:
        if verdict.kind == "token_dead":
            raise TokenDead(verdict)
        if verdict.kind == "permanent":
            raise GraphPermanent(verdict)
        if attempts.exhausted(self.retry):
            raise GraphGaveUp(verdict)
        if verdict.kind == "throttled":
            governor.pause(min(verdict.wait_s or 0.0, self.retry.max_throttle_wait_s))
        elif verdict.kind == "transient":
            await self.sleep(self.retry.backoff_s(attempts.transient, self.rand()))
        elif verdict.kind == "too_much_data":
            smaller = self.retry.smaller_limit(int(sent.get("limit", "25")))
            if smaller is None:
                raise GraphPermanent(verdict)
            sent["limit"] = str(smaller)

    async def _attempt(
        self, method: str, governor: PageGovernor, page_id: str, token: Secret, path: str, params: Mapping[str, str]
    ) -> tuple[Verdict, Mapping[str, Any], int | None]:
        query = {**params, "access_token": token.reveal(), "appsecret_proof": self._proof(token)}
        try:
            async with self.session.request(method, self.url(path), params=query) as response:
                raw = await response.read()
                usage = parse_usage(response.headers, page_id)
                self.governors.app.observe(app_percent(response.headers))
                status, read_at = response.status, meta_time_ms(response.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return Verdict("transient", None, f"network: {exc.__class__.__name__}"), {}, None
        governor.observe(usage)
        body = _json_object(raw)
        if body is None:
            kind: VerdictKind = "transient" if status < 400 or status >= 500 else "permanent"
            return Verdict(kind, None, f"HTTP {status}: body is not a JSON object"), {}, None
        return classify(status, body, usage.regain_s if usage else None), body, read_at

    def _proof(self, token: Secret) -> str:
        if self.settings.app_secret_for_proof is None:
            raise GraphPermanent(Verdict("permanent", None, "CONVSYNC_APP_SECRETS is missing: no appsecret_proof"))
        return appsecret_proof(token, self.settings.app_secret_for_proof)


def _json_object(raw: bytes) -> Mapping[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
