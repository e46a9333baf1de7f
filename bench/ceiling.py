"""The ceiling for bench/webhook.py: Starlette that reads the body, checks the HMAC and answers 200.

Run by the benchmark as `uvicorn ceiling:app --app-dir bench`; the secret comes from
CONVSYNC_APP_SECRETS like the real edge.
"""

from __future__ import annotations

import hmac
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET = os.environ["CONVSYNC_APP_SECRETS"].split(",")[0].encode()


async def webhook(request: Request) -> Response:
    body = await request.body()
    expected = "sha256=" + hmac.digest(SECRET, body, "sha256").hex()
    ok = hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", ""))
    return Response(status_code=200 if ok else 403)


async def healthz(request: Request) -> Response:
    return Response("ok\n")


app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"]), Route("/healthz", healthz)])
