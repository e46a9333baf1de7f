"""The admin API's one credential check: `Authorization: Bearer <CONVSYNC_ADMIN_TOKEN>`, in constant time.

With no admin token configured nothing is authorized. Every admin route (the reconciler's, the
replays') goes through `bearer_matches`, so they cannot drift apart.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kernel.settings import Secret

Handler = Callable[[Request], Awaitable[Response]]


def bearer_matches(authorization: str, expected: Secret | None) -> bool:
    if expected is None or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), expected.reveal().encode())


def bearer_required(handler: Handler, expected: Secret | None) -> Handler:
    """`handler`, answering 401 (and doing nothing) unless the request carries the admin token."""
    async def guarded(request: Request) -> Response:
        if not bearer_matches(request.headers.get("authorization", ""), expected):
            return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return guarded
