"""Fixtures of the emulator's tests: a small world, a hand-driven clock, a gate without HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from emulator.graph import GraphConfig, GraphState
from emulator.world import World, WorldConfig

SMALL = WorldConfig(seed=7, pages=2, instagram_pages=1, conversations_per_page=30, messages_per_conversation=25)


@dataclass
class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def link(path: str, query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return f"http://graph.test/v25.0/{path}?{urlencode(query)}"


@pytest.fixture
def world() -> World:
    return World(SMALL)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(world: World, clock: FakeClock) -> GraphState:
    """The Graph gate with a generous rate, so only rate-limit tests see throttling."""
    return GraphState(world, GraphConfig(calls_per_second=1000.0, app_secret="s3cret"), clock)


def messenger_page(world: World) -> str:
    return next(p.page_id for p in world.pages.values() if p.platform == "messenger")


def instagram_page(world: World) -> str:
    return next(p.page_id for p in world.pages.values() if p.platform == "instagram")
