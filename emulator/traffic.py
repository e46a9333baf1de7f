"""Simulated users and agents: changes to the world at a rate, each sent as signed webhooks.

`step(world, rng, mix)` makes one change (pure apart from mutating the world): it picks an activity
by weight among those possible right now (an edit needs a user's text message, an unsend an
Instagram one, ...) and returns its webhook events. `Traffic` runs steps at `rate` per second,
collects the events of one tick and hands them to the `WebhookSender` (which batches, signs and
sends them), bounded by `max_changes` and `max_seconds`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.model import Conversation, Message, WebhookEvent
from emulator.webhooks import WebhookSender
from emulator.world import REACTIONS, World

DEFAULT_MIX = {
    "new_conversation": 6,
    "text": 25,
    "image": 3,
    "sticker": 2,
    "quick_reply": 3,
    "reply": 3,
    "echo": 20,
    "delivery": 8,
    "read": 8,
    "react": 6,
    "unreact": 2,
    "edit": 5,
    "unsend": 3,
    "postback": 3,
    "referral": 2,
}


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    rate: float = 20.0  # changes per second
    max_changes: int = 1000
    max_seconds: float = 60.0
    seed: int = 0
    mix: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    page_ids: tuple[str, ...] | None = None  # None: all pages


def _user_text(conv: Conversation) -> list[Message]:
    return [m for m in conv.messages if m.direction == "inbound" and m.text is not None and not m.is_deleted]


Activity = Callable[[World, Conversation, random.Random], list[WebhookEvent]]

ACTIVITIES: dict[str, Activity] = {
    "new_conversation": lambda w, c, r: w.user_message(c.page_id),
    "text": lambda w, c, r: w.user_message(c.page_id, c.user_id),
    "image": lambda w, c, r: w.user_message(c.page_id, c.user_id, kind="image"),
    "sticker": lambda w, c, r: w.user_message(c.page_id, c.user_id, kind="sticker"),
    "quick_reply": lambda w, c, r: w.user_message(c.page_id, c.user_id, kind="quick_reply"),
    "reply": lambda w, c, r: w.user_message(c.page_id, c.user_id, reply_to=r.choice(c.visible()).mid),
    "echo": lambda w, c, r: w.page_message(
        c.page_id, c.user_id, metadata=f"agent:{r.randint(1, 9)}", from_app=r.random() < 0.7
    ),
    "delivery": lambda w, c, r: w.deliver(c.page_id, c.user_id),
    "read": lambda w, c, r: w.read(c.page_id, c.user_id),
    "react": lambda w, c, r: w.react(r.choice(c.visible()[:5]).mid, r.choice(sorted(REACTIONS))),
    "unreact": lambda w, c, r: w.unreact(r.choice([m for m in c.messages if c.user_id in m.reactions]).mid),
    "edit": lambda w, c, r: w.edit(r.choice(_user_text(c)[-5:]).mid),
    "unsend": lambda w, c, r: w.unsend(r.choice(_user_text(c)[-5:]).mid),
    "silent_unsend": lambda w, c, r: w.unsend_silently(r.choice(_user_text(c)[-5:]).mid),
    "story_reply": lambda w, c, r: w.user_message(c.page_id, c.user_id, kind="story_reply"),
    "story_mention": lambda w, c, r: w.user_message(c.page_id, c.user_id, kind="story_mention"),
    "handover": lambda w, c, r: w.handover(c.page_id, c.user_id, r.choice(("pass", "take", "request")),
                                           r.choice(("263902037430900", "1517776481860111"))),
    "postback": lambda w, c, r: w.postback(c.page_id, c.user_id),
    "referral": lambda w, c, r: w.referral(c.page_id, c.user_id),
}


def possible(name: str, conv: Conversation) -> bool:
    """Whether an activity makes sense in this conversation right now."""
    needs: dict[str, Callable[[], bool]] = {
        "reply": lambda: bool(conv.visible()),
        "react": lambda: bool(conv.visible()),
        "unreact": lambda: any(conv.user_id in m.reactions for m in conv.messages),
        "edit": lambda: bool(_user_text(conv)),
        "unsend": lambda: conv.platform == "instagram" and bool(_user_text(conv)),
        "silent_unsend": lambda: conv.platform == "instagram" and bool(_user_text(conv)),
        "story_reply": lambda: conv.platform == "instagram",
        "story_mention": lambda: conv.platform == "instagram",
        "delivery": lambda: conv.platform == "messenger",
    }
    return needs.get(name, lambda: True)()


def step(
    world: World, rng: random.Random, mix: dict[str, int], page_ids: tuple[str, ...] | None = None
) -> list[WebhookEvent]:
    """One change somewhere in the world, and the webhook events it causes."""
    page_id = rng.choice(sorted(page_ids or world.pages))
    conv = world.pick_conversation(page_id, rng)
    if conv is None:
        return world.user_message(page_id)
    if not conv.messages:
        return world.user_message(page_id, conv.user_id)
    names = [n for n in sorted(mix) if mix[n] > 0 and n in ACTIVITIES and possible(n, conv)]
    name = rng.choices(names, weights=[mix[n] for n in names])[0]
    return ACTIVITIES[name](world, conv, rng)


class Traffic:
    def __init__(self, world: World, sender: WebhookSender, config: TrafficConfig) -> None:
        self.world, self.sender, self.config = world, sender, config
        self.rng = random.Random(config.seed)
        self.rate = config.rate  # changes per second; may be changed while running
        self.changes = 0
        self.events: list[WebhookEvent] = []  # everything generated, in order
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="emulator-traffic")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._sends, return_exceptions=True)

    def finished(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait(self) -> None:
        """Until the bounded run is over and every POST has settled."""
        if self._task is not None:
            await self._task
        await asyncio.gather(*self._sends, return_exceptions=True)

    async def run(self) -> None:
        """Changes at `self.rate` per second (changeable while running), in ticks of at most 0.1 s."""
        started = last = time.monotonic()
        owed = 0.0
        while self.changes < self.config.max_changes and last - started < self.config.max_seconds:
            await asyncio.sleep(min(0.1, 1.0 / max(self.rate, 0.001)))
            now = time.monotonic()
            owed = min(owed + (now - last) * self.rate, max(1.0, self.rate))  # no catch-up storm after a stall
            last = now
            count = min(int(owed), self.config.max_changes - self.changes)
            owed -= count
            self._emit([e for _ in range(count) for e in self._step()])

    def _step(self) -> list[WebhookEvent]:
        self.changes += 1
        return step(self.world, self.rng, self.config.mix, self.config.page_ids)

    def _emit(self, batch: list[WebhookEvent]) -> None:
        if not batch:
            return
        self.events += batch
        task = asyncio.create_task(self.sender.send(batch))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
