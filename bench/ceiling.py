"""The ceiling for bench/webhook.py: Starlette that reads the body, checks the HMAC and answers 200.

Run by the benchmark as `python bench/ceiling.py --port P --workers N`, which serves it exactly as
`convsync serve` serves the edge: uvicorn with uvloop and httptools, no access log, no server header,
and with several workers a listening socket each (`convsync.listeners`); under uvicorn's shared
socket an unlucky split of the connections (44/20) cost the ceiling a fifth of its throughput.
The secret comes from CONVSYNC_APP_SECRETS like the real edge.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from pathlib import Path

import uvicorn

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


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the ceiling app.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parent), str(here)]  # `ceiling` for uvicorn's workers, `convsync` for its runner
    from convsync.serve import run

    run(uvicorn.Config("ceiling:app", host="127.0.0.1", port=args.port, workers=args.workers, loop="uvloop",
                       http="httptools", lifespan="off", access_log=False, log_level="warning", server_header=False))


if __name__ == "__main__":
    main()
