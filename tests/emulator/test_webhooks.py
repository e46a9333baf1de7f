"""Webhook bodies, signatures and the delivery plan (loss, duplication, reordering), without HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

from emulator import signing
from emulator.ids import Platform
from emulator.model import WebhookEvent
from emulator.webhooks import WebhookConfig, batches, plan
from emulator.world import World, WorldConfig


def events(n: int, platform: Platform = "messenger") -> list[WebhookEvent]:
    return [
        WebhookEvent(f"p{i % 3}", platform, {"timestamp": 1000 + i, "message": {"mid": f"m_{i}"}}) for i in range(n)
    ]


def test_meta_escaping_is_ascii_with_escaped_slashes() -> None:
    body = signing.meta_json({"text": "caf\u00e9 \U0001f600 a/b"})
    assert body == b'{"text":"caf\\u00e9 \\ud83d\\ude00 a\\/b"}'
    assert json.loads(body) == {"text": "caf\u00e9 \U0001f600 a/b"}


def test_signature_matches_an_independent_hmac() -> None:
    body = signing.meta_json({"object": "page", "entry": []})
    expected = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert signing.signature_256("app-secret", body) == f"sha256={expected}"
    assert signing.signature_256("other", body) != f"sha256={expected}"
    resigned = json.dumps(json.loads(body)).encode()  # a receiver that re-serialises gets another digest
    assert signing.signature_256("app-secret", resigned) != f"sha256={expected}"


def test_body_groups_events_into_one_entry_per_page() -> None:
    world = World(WorldConfig(seed=2, pages=2, conversations_per_page=2, messages_per_conversation=1))
    a, b = list(world.pages)
    evs = [*world.user_message(a), *world.user_message(b), *world.user_message(a)]
    body = signing.webhook_body(evs)
    assert body["object"] == "page"
    assert [e["id"] for e in body["entry"]] == [a, b]
    assert [len(e["messaging"]) for e in body["entry"]] == [2, 1]
    assert body["entry"][0]["time"] == evs[2].event["timestamp"]


def test_batches_respect_size_and_never_mix_objects() -> None:
    mixed = events(5) + events(3, "instagram") + events(4)
    cut = batches(mixed, 4)
    assert [len(b) for b in cut] == [4, 1, 3, 4]
    assert all(len({e.platform for e in b}) == 1 for b in cut)


def test_no_knobs_means_every_post_sent_once_in_order() -> None:
    posts = plan(events(100), WebhookConfig("http://x", "s", batch_size=10), random.Random(1))
    assert [p.events for p in posts] == batches(events(100), 10)
    assert not any(p.dropped or p.reordered or p.copies > 1 for p in posts)


def test_knobs_behave_as_configured_and_deterministically() -> None:
    config = WebhookConfig("http://x", "s", batch_size=1, loss=0.2, duplicate=0.1, reorder=0.3, seed=4)
    posts = plan(events(2000), config, random.Random(config.seed))
    again = plan(events(2000), config, random.Random(config.seed))
    assert posts == again
    dropped = sum(p.dropped for p in posts) / len(posts)
    doubled = sum(p.copies == 2 for p in posts) / len(posts)
    reordered = sum(p.reordered for p in posts) / len(posts)
    assert 0.17 < dropped < 0.23 and 0.07 < doubled < 0.11 and 0.2 < reordered < 0.35
    assert sorted(e.event["timestamp"] for p in posts for e in p.events) == [1000 + i for i in range(2000)]
    order = [p.events[0].event["timestamp"] for p in posts]
    assert order != sorted(order)
