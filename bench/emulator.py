#!/usr/bin/env python3
"""How fast the emulator can drive convsync, against a ceiling measured in the same run (issue 6).

    .venv/bin/python bench/emulator.py [--seconds 3]

(a) ceiling: a bare aiohttp client POSTing pre-built, pre-signed bodies (4 in flight) to a bare
    aiohttp receiver that checks the HMAC and answers 200;
(b) the emulator's webhook path: world changes -> Meta-escaped, signed bodies -> `WebhookSender`
    (same receiver, same 4 in flight), at batch sizes 1 and 10 events per POST;
(c) the Graph API: `GET {page}/conversations?limit=25&fields=...,messages.limit(20){...}` in a loop
    (rate limit off), pages walked with `paging.next`.
Everything shares one event loop on this machine, like in the test suite. Prints events/s or calls/s
and the ratio to the ceiling. If (b) is far above convsync's edge (~6k req/s per DESIGN §9), the
emulator is not what limits an end-to-end benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import random
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.graph import GraphConfig
from emulator.runner import EmulatorConfig, run_emulator
from emulator.signing import meta_json, signed_headers, webhook_body
from emulator.traffic import DEFAULT_MIX, step
from emulator.webhooks import WebhookConfig, WebhookSender
from emulator.world import World, WorldConfig

SECRET = "bench-secret"
IN_FLIGHT = 4
FIELDS = "id,updated_time,participants,messages.limit(20){id,created_time,from,to,message,attachments,sticker}"


async def receiver() -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", ""))
        return web.Response(status=200 if ok else 403)

    app = web.Application()
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"


async def ceiling(url: str, seconds: float) -> float:
    world = World(WorldConfig(seed=1, pages=2, conversations_per_page=200))
    rng = random.Random(1)
    bodies = [meta_json(webhook_body(step(world, rng, DEFAULT_MIX))) for _ in range(500)]
    posts = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:

        async def worker(offset: int) -> None:
            nonlocal posts
            n = offset
            while time.monotonic() < deadline:
                body = bodies[n % len(bodies)]
                async with http.post(url, data=body, headers=signed_headers(SECRET, body)) as response:
                    await response.read()
                posts, n = posts + 1, n + IN_FLIGHT

        await asyncio.gather(*(worker(i) for i in range(IN_FLIGHT)))
    return posts / seconds


async def emulator_webhooks(url: str, seconds: float, batch: int) -> float:
    world = World(WorldConfig(seed=2, pages=2, conversations_per_page=200))
    rng = random.Random(2)
    sender = WebhookSender(WebhookConfig(url, SECRET, batch_size=batch, concurrency=IN_FLIGHT))
    await sender.start()
    started = time.monotonic()
    try:

        async def worker() -> None:
            while time.monotonic() - started < seconds:
                events = [e for _ in range(batch * 4) for e in step(world, rng, DEFAULT_MIX)]
                await sender.send(events)

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    finally:
        await sender.close()
    assert not sender.stats.lost, "the receiver refused events"
    return len(sender.stats.delivered) / (time.monotonic() - started)


async def graph_calls(seconds: float) -> float:
    world = WorldConfig(seed=3, pages=1, conversations_per_page=500, messages_per_conversation=25)
    config = EmulatorConfig(world=world, graph=GraphConfig(calls_per_second=1e9))
    async with run_emulator(config) as emu, aiohttp.ClientSession() as http:
        page = next(iter(emu.world.pages.values()))
        first = f"{emu.graph_url}/v25.0/{page.page_id}/conversations?limit=25&fields={FIELDS}"
        url, calls, deadline = first + f"&access_token={page.access_token}", 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with http.get(url) as response:
                body = await response.json()
            calls += 1
            url = body["paging"].get("next") or first + f"&access_token={page.access_token}"
    return calls / seconds


async def main(seconds: float) -> None:
    runner, url = await receiver()
    try:
        top = await ceiling(url, seconds)
        single = await emulator_webhooks(url, seconds, 1)
        batched = await emulator_webhooks(url, seconds, 10)
    finally:
        await runner.cleanup()
    graph = await graph_calls(seconds)
    print(f"{'case':<52} {'rate':>12} {'vs ceiling':>11}")
    print(f"{'(a) ceiling: bare signed POSTs, 1 event each':<52} {top:>8.0f} /s {'1.00':>11}")
    print(f"{'(b) emulator webhooks, 1 event per POST':<52} {single:>8.0f} ev/s {single / top:>9.2f}")
    print(f"{'(b) emulator webhooks, 10 events per POST':<52} {batched:>8.0f} ev/s {batched / top:>9.2f}")
    print(f"{'(c) Graph conversations, limit 25 x messages 20':<52} {graph:>8.0f} calls/s {'':>6}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per case (default 3)")
    asyncio.run(main(parser.parse_args().seconds))
