"""Sending webhooks the way Meta does: batched, signed, retried, and (on purpose) lost, duplicated, reordered.

`plan(events, config, rng)` is the pure part: it cuts events into POST bodies (at most
`batch_size` events each, one `object` per body, an `entry` per page) and decides, from the seeded
rng, which POSTs are dropped, which are sent twice and which swap places with the next. The
`WebhookSender` then performs the plan over HTTP, retrying non-2xx answers and timeouts `retries`
times with doubling delays before giving up, and records which events got a 2xx (`delivered`) and
which never did (`lost`: dropped on purpose or failed after retries).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from emulator.model import JSON, WebhookEvent
from emulator.signing import meta_json, signed_headers, webhook_body
from emulator.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    app_secret: str = field(repr=False)
    batch_size: int = 10  # events per POST at most
    loss: float = 0.0  # share of POSTs never sent
    duplicate: float = 0.0  # share of POSTs sent twice
    reorder: float = 0.0  # share of POSTs swapped with the next one
    retries: int = 3  # after the first attempt
    retry_delay_s: float = 0.2  # doubled on each retry
    timeout_s: float = 5.0
    concurrency: int = 4  # POSTs in flight at once
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Post:
    events: tuple[WebhookEvent, ...]
    dropped: bool = False
    copies: int = 1
    reordered: bool = False

    def body(self) -> bytes:
        return meta_json(webhook_body(list(self.events)))


def batches(events: list[WebhookEvent], size: int) -> list[tuple[WebhookEvent, ...]]:
    """Consecutive events cut into bodies of at most `size`, a new body whenever `object` changes."""
    out: list[tuple[WebhookEvent, ...]] = []
    current: list[WebhookEvent] = []
    for event in events:
        if current and (len(current) >= size or current[-1].platform != event.platform):
            out.append(tuple(current))
            current = []
        current.append(event)
    return [*out, tuple(current)] if current else out


def plan(events: list[WebhookEvent], config: WebhookConfig, rng: random.Random) -> list[Post]:
    posts = []
    for chunk in batches(events, max(1, config.batch_size)):
        if rng.random() < config.loss:
            posts.append(Post(chunk, dropped=True))
        else:
            posts.append(Post(chunk, copies=2 if rng.random() < config.duplicate else 1))
    for n in range(len(posts) - 1):
        if rng.random() < config.reorder:
            later, earlier = posts[n + 1], posts[n]
            posts[n], posts[n + 1] = Post(later.events, later.dropped, later.copies, True), earlier
    return posts


@dataclass(slots=True)
class DeliveryStats:
    delivered: list[WebhookEvent] = field(default_factory=list)  # got a 2xx (at least once)
    lost: list[WebhookEvent] = field(default_factory=list)  # dropped on purpose or failed after retries
    posts: int = 0  # HTTP requests made, retries and duplicates included
    dropped_posts: int = 0
    duplicated_posts: int = 0
    reordered_posts: int = 0
    retried_posts: int = 0
    failed_posts: int = 0

    def outcomes(self) -> JSON:
        """Which events got a 2xx and which never did, as `{page_id, platform, standby, event}` items."""

        def items(events: list[WebhookEvent]) -> list[JSON]:
            return [
                {"page_id": e.page_id, "platform": e.platform, "standby": e.standby, "event": e.event}
                for e in events
            ]

        return {"delivered": items(self.delivered), "lost": items(self.lost)}

    def as_json(self) -> JSON:
        return {
            "delivered_events": len(self.delivered),
            "lost_events": len(self.lost),
            "posts": self.posts,
            "dropped_posts": self.dropped_posts,
            "duplicated_posts": self.duplicated_posts,
            "reordered_posts": self.reordered_posts,
            "retried_posts": self.retried_posts,
            "failed_posts": self.failed_posts,
        }


class WebhookSender:
    """With `subscriptions`, a page's events go out only while the app is subscribed to their field
    (the rest are lost, as Meta never sends them), and a POST that failed every retry counts towards
    Meta unsubscribing its pages (`emulator.subscriptions`)."""

    def __init__(self, config: WebhookConfig, subscriptions: Subscriptions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.subscriptions = subscriptions
        self.clock = clock
        self.stats = DeliveryStats()
        self._rng = random.Random(config.seed)
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(max(1, config.concurrency))

    def set_faults(
        self, *, loss: float | None = None, duplicate: float | None = None, reorder: float | None = None
    ) -> None:
        """Change the deliberate faults for POSTs planned from now on."""
        c = self.config
        self.config = dataclasses.replace(
            c,
            loss=c.loss if loss is None else loss,
            duplicate=c.duplicate if duplicate is None else duplicate,
            reorder=c.reorder if reorder is None else reorder,
        )

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, events: list[WebhookEvent]) -> None:
        """Plan and perform the POSTs for these events, in plan order; returns when all are settled."""
        for post in plan(events, self.config, self._rng):
            await self._perform(post)

    async def _perform(self, post: Post) -> None:
        self.stats.reordered_posts += post.reordered
        if post.dropped:
            self.stats.dropped_posts += 1
            self.stats.lost.extend(post.events)
            return
        if self.subscriptions is not None:
            post = self._subscribed_only(post, self.subscriptions)
            if not post.events:
                return
        self.stats.duplicated_posts += post.copies > 1
        body = post.body()
        results = [await self._post_with_retries(body) for _ in range(post.copies)]
        (self.stats.delivered if any(results) else self.stats.lost).extend(post.events)
        if self.subscriptions is not None:
            for page_id in {e.page_id for e in post.events}:
                if any(results):
                    self.subscriptions.delivery_succeeded(page_id)
                else:
                    self.subscriptions.delivery_failed(page_id, self.clock())

    def _subscribed_only(self, post: Post, subscriptions: Subscriptions) -> Post:
        kept = []
        for event in post.events:
            if subscriptions.delivers(event.page_id, event.kind, event.standby):
                kept.append(event)
            else:
                subscriptions.withheld(event.page_id)
                self.stats.lost.append(event)
        return dataclasses.replace(post, events=tuple(kept))

    async def _post_with_retries(self, body: bytes) -> bool:
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.stats.retried_posts += 1
                await asyncio.sleep(self.config.retry_delay_s * 2 ** (attempt - 1))
            if await self._post(body):
                return True
        self.stats.failed_posts += 1
        return False

    async def _post(self, body: bytes) -> bool:
        assert self._session is not None, "start() the sender first"
        self.stats.posts += 1
        headers = signed_headers(self.config.app_secret, body)
        try:
            async with self._slots, self._session.post(self.config.url, data=body, headers=headers) as response:
                await response.read()
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False
