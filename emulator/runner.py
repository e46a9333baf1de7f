"""Run the emulator in this event loop: `async with run_emulator(config) as emu: ...`.

Starts the Graph API (and `/_emulator/...` controls) on 127.0.0.1 (a free port unless one is given)
and, when `config.traffic` is set, the traffic generator sending signed webhooks to its target URL.
Everything stops when the block exits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from emulator import control, graph
from emulator.graph import GraphConfig, GraphState, GraphStats
from emulator.model import JSON
from emulator.traffic import Traffic, TrafficConfig
from emulator.webhooks import DeliveryStats, WebhookConfig, WebhookSender
from emulator.world import World, WorldConfig


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    world: WorldConfig = field(default_factory=WorldConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    webhook: WebhookConfig | None = None  # where and how webhooks are sent; None: no sender
    traffic: TrafficConfig | None = None  # None: no background traffic (tests drive the world)


class Emulator:
    """A running emulator: its URL, world, counters and runtime controls."""

    def __init__(self, state: GraphState, graph_url: str, sender: WebhookSender | None, traffic: Traffic | None) -> None:
        self.graph_state = state
        self.graph_url = graph_url  # base URL without the version: f"{graph_url}/v25.0/..."
        self.sender = sender
        self.traffic = traffic

    @property
    def world(self) -> World:
        return self.graph_state.world

    @property
    def stats(self) -> GraphStats:
        return self.graph_state.stats

    @property
    def delivery(self) -> DeliveryStats | None:
        return self.sender.stats if self.sender else None

    def expire_token(self, page_id: str) -> None:
        self.graph_state.expire_token(page_id)

    def set_token(self, page_id: str, token: str) -> None:
        self.graph_state.set_token(page_id, token)

    def set_rate(self, calls_per_second: float, burst: float | None = None) -> None:
        self.graph_state.set_rate(calls_per_second, burst)

    def set_transient_failure_rate(self, rate: float) -> None:
        self.graph_state.controls.transient_failure_rate = rate

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None:
        self.graph_state.controls.latency_ms, self.graph_state.controls.jitter_ms = latency_ms, jitter_ms

    def stats_json(self) -> JSON:
        body: JSON = {"graph": self.stats.as_json()}
        if self.sender is not None:
            body["webhooks"] = self.sender.stats.as_json()
        return body


@asynccontextmanager
async def run_emulator(config: EmulatorConfig, *, clock: Callable[[], float] = time.monotonic) -> AsyncIterator[Emulator]:
    world = World(config.world)
    state = GraphState(world, config.graph, clock)
    app = graph.make_app(state)
    sender = WebhookSender(config.webhook) if config.webhook else None
    control.add_routes(app, state, (lambda: {"webhooks": sender.stats.as_json()}) if sender else None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    port = runner.addresses[0][1]
    traffic = Traffic(world, sender, config.traffic) if config.traffic and sender else None
    emu = Emulator(state, f"http://{config.host}:{port}", sender, traffic)
    try:
        if sender:
            await sender.start()
        if traffic:
            traffic.start()
        yield emu
    finally:
        if traffic:
            await traffic.stop()
        if sender:
            await sender.close()
        await runner.cleanup()
