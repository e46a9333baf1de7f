"""A webhook receiver for the emulator's own tests: verifies signatures, records bodies, fails on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from emulator.model import JSON


@dataclass
class Receiver:
    secret: str
    fail: Callable[[bytes, int], bool] = lambda body, attempt: False  # (body, nth time seen) -> answer 500?
    url: str = ""
    bodies: list[bytes] = field(default_factory=list)  # accepted (2xx) bodies, in arrival order
    attempts: dict[bytes, int] = field(default_factory=dict)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
            self.bad_signatures += 1
            return web.Response(status=403)
        self.attempts[body] = self.attempts.get(body, 0) + 1
        if self.fail(body, self.attempts[body]):
            return web.Response(status=500)
        self.bodies.append(body)
        return web.Response(text="EVENT_RECEIVED")

    def events(self) -> list[JSON]:
        entries = [entry for body in self.bodies for entry in json.loads(body)["entry"]]
        return [item for entry in entries for key in ("messaging", "standby") for item in entry.get(key, [])]


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
