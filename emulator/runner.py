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
from emulator.model import JSON, WebhookEvent
from emulator.traffic import Traffic, TrafficConfig
from emulator.subscriptions import Subscriptions
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
    realtime: bool = False  # the world's clock follows the wall clock (dev, CLI) instead of simulated ticks


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Emulator:
    """A running emulator: its URL, world, counters and runtime controls."""

    def __init__(self, state: GraphState, sender: WebhookSender | None, traffic: Traffic | None) -> None:
        self.graph_state = state
        self.graph_url = ""  # base URL without the version (f"{graph_url}/v25.0/..."), set once listening
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

    def loop_cursors(self, page_id: str, looping: bool = True) -> None:
        """From its second page on, `page_id`'s conversation listing repeats the cursor it was asked with."""
        self.graph_state.loop_cursors(page_id, looping)

    def set_token(self, page_id: str, token: str) -> None:
        self.graph_state.set_token(page_id, token)

    @property
    def subscriptions(self) -> Subscriptions:
        """Which pages deliver webhooks for which fields (`unsubscribe`, `drop_field` as Meta's habits)."""
        return self.graph_state.subscriptions

    def unsubscribe(self, page_id: str) -> None:
        self.world.page(page_id)
        self.graph_state.subscriptions.unsubscribe(page_id)

    def drop_field(self, page_id: str, name: str) -> None:
        self.world.page(page_id)
        self.graph_state.subscriptions.drop_field(page_id, name)

    def set_rate(self, calls_per_second: float, burst: float | None = None) -> None:
        self.graph_state.set_rate(calls_per_second, burst)

    def set_transient_failure_rate(self, rate: float) -> None:
        self.graph_state.controls.transient_failure_rate = rate

    def set_latency(self, latency_ms: float, jitter_ms: float = 0.0) -> None:
        self.graph_state.controls.latency_ms, self.graph_state.controls.jitter_ms = latency_ms, jitter_ms

    def set_webhook_faults(
        self, *, loss: float | None = None, duplicate: float | None = None, reorder: float | None = None
    ) -> None:
        self._need_sender().set_faults(loss=loss, duplicate=duplicate, reorder=reorder)

    def set_traffic_rate(self, changes_per_second: float) -> None:
        if self.traffic is None:
            raise RuntimeError("the emulator runs without traffic (EmulatorConfig.traffic is None)")
        self.traffic.rate = changes_per_second

    async def send(self, events: list[WebhookEvent]) -> None:
        """Send these events (from world changes a test made) as webhooks, now, with the configured faults."""
        await self._need_sender().send(events)

    def _need_sender(self) -> WebhookSender:
        if self.sender is None:
            raise RuntimeError("the emulator has no webhook target (EmulatorConfig.webhook is None)")
        return self.sender

    def deliveries_json(self) -> JSON:
        return self.sender.stats.outcomes() if self.sender else {"delivered": [], "lost": []}

    def stats_json(self) -> JSON:
        subs = self.graph_state.subscriptions.stats
        body: JSON = {"graph": self.stats.as_json(),
                      "subscriptions": {"withheld": dict(subs.withheld),
                                        "unsubscribed_by_failures": dict(subs.unsubscribed_by_failures),
                                        "resubscribed": dict(subs.resubscribed)}}
        if self.sender is not None:
            body["webhooks"] = self.sender.stats.as_json()
        return body


@asynccontextmanager
async def run_emulator(
    config: EmulatorConfig, *, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[Emulator]:
    world = World(config.world, wall_clock_ms if config.realtime else None)
    state = GraphState(world, config.graph, clock)
    app = graph.make_app(state)
    sender = WebhookSender(config.webhook, state.subscriptions, clock) if config.webhook else None
    traffic = Traffic(world, sender, config.traffic) if config.traffic and sender else None
    emu = Emulator(state, sender, traffic)
    control.add_routes(app, emu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    emu.graph_url = f"http://{config.host}:{runner.addresses[0][1]}"
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
