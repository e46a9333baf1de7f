"""The admin API's one credential check: `Authorization: Bearer <CONVSYNC_ADMIN_TOKEN>`, in constant time.

With no admin token configured nothing is authorized. Every admin route (the reconciler's, the
replays') goes through `bearer_required`, so they cannot drift apart. Around the check:

- a credential in the query string (`?access_token=`, `?token=`, or the admin token as any value) is
  refused with 400 before anything else: URLs end up in proxy logs and browser history;
- failed checks are counted per client address (`FailedAuth`, pure, clock injected); past
  `limit` failures in `window_s` a client gets 429 with `Retry-After` and its guesses are not checked;
- every state-changing request that passed (not GET/HEAD) writes one `admin_action` log line: what,
  which page, the token's short fingerprint (never the token), the client, and the answer's status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kernel.settings import Secret

Handler = Callable[[Request], Awaitable[Response]]
log = structlog.get_logger("convsync.admin")

QUERY_CREDENTIALS = frozenset({"access_token", "token", "admin_token", "authorization", "auth", "key"})
PAGE_KEYS = ("page_id", "facebookPageId", "pageId")


def bearer_matches(authorization: str, expected: Secret | None) -> bool:
    if expected is None or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), expected.reveal().encode())


def fingerprint(token: Secret) -> str:
    """Eight hex digits that tell tokens apart in an audit log and reveal nothing of them."""
    return hashlib.sha256(token.reveal().encode()).hexdigest()[:8]


@dataclass(slots=True)
class FailedAuth:
    """Failed credential checks per client within a sliding window; the oldest clients are forgotten
    beyond `max_clients`, so a flood of addresses cannot grow it without bound."""

    limit: int = 10
    window_s: float = 60.0
    max_clients: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def retry_after_s(self, client: str) -> float:
        """0 when the client may try; otherwise how long until its oldest failure leaves the window."""
        failures = self._recent(client)
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window_s - self.clock())

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self.clock())
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client, deque())
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures


def bearer_required(handler: Handler, expected: Secret | None, failures: FailedAuth) -> Handler:
    """`handler`, answering 401 (and doing nothing) unless the request carries the admin token.
    `failures`: one per served app, shared by all its admin routes (`convsync serve` passes one)."""
    async def guarded(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        if _credential_in_query(request, expected):
            return JSONResponse({"error": "credentials are not accepted in the URL; send Authorization: Bearer"},
                                status_code=400)
        wait_s = failures.retry_after_s(client)
        if wait_s > 0:
            return JSONResponse({"error": "too many failed attempts; try again later"}, status_code=429,
                                headers={"Retry-After": str(math.ceil(wait_s))})
        if expected is None or not bearer_matches(request.headers.get("authorization", ""), expected):
            failures.failed(client)
            log.warning("admin_auth_failed", client=client, path=request.url.path)
            return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        if request.method not in ("GET", "HEAD"):
            log.info("admin_action", action=f"{request.method} {request.url.path}", page_id=await _page_of(request),
                     token=fingerprint(expected), client=client, status=response.status_code)
        return response

    return guarded


def _credential_in_query(request: Request, expected: Secret | None) -> bool:
    params = request.query_params
    if any(key.lower() in QUERY_CREDENTIALS for key in params):
        return True
    if expected is None:
        return False
    token = expected.reveal().encode()
    return any(hmac.compare_digest(value.encode(), token) for value in params.values())


async def _page_of(request: Request) -> str | None:
    """The page an admin action was about: from the path, else from the JSON body (read once, cached)."""
    if isinstance(page := request.path_params.get("page_id"), str):
        return page
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, RuntimeError):
        return None
    if isinstance(body, dict):
        for key in PAGE_KEYS:
            if isinstance(body.get(key), str | int) and not isinstance(body.get(key), bool):
                return str(body[key])
    return None
