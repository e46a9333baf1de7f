"""The Graph API's answers and errors, called through the gate directly (no HTTP, hand-driven clock)."""

from __future__ import annotations

import hashlib
import hmac
import random
from urllib.parse import parse_qsl, urlsplit

from emulator.graph import GraphConfig, GraphState
from emulator.model import JSON
from emulator.resolve import Limits
from emulator.traffic import DEFAULT_MIX, step
from emulator.world import World
from tests.emulator.conftest import FakeClock, instagram_page, link, messenger_page

MESSAGE_FIELDS = "id,created_time,from,to,message,attachments,sticker,shares"


def get(gate: GraphState, path: str, **params: str) -> tuple[int, JSON]:
    head = path.split("/")[0]
    page = gate.world.pages.get(head) or gate.world.graph_pages.get(head)
    token = page.access_token if page else None
    if token is None:
        owner = gate.world.conversations.get(path.split("/")[0]) or gate.world.messages.get(path.split("/")[0])
        token = gate.world.pages[owner.page_id].access_token if owner else "none"
    answer = gate.call(path, {"access_token": token} | params, link)
    return answer.status, answer.body


def follow(next_url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(next_url)
    return parts.path.split("/", 2)[2], dict(parse_qsl(parts.query))


def walk(gate: GraphState, page_id: str, between_pages: int = 0, **params: str) -> list[JSON]:
    """All conversations of a page, following `paging.next`, with traffic between the pages."""
    rng, seen = random.Random(3), []
    status, body = get(gate, f"{page_id}/conversations", **params)
    while True:
        assert status == 200, body
        seen += body["data"]
        for _ in range(between_pages):
            step(gate.world, rng, DEFAULT_MIX)
        if "next" not in body.get("paging", {}):
            return seen
        path, query = follow(body["paging"]["next"])
        answer = gate.call(path, query, link)
        status, body = answer.status, answer.body


def test_paging_covers_every_conversation_once_newest_first(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    seen = walk(gate, page_id, limit="7")
    ids = [c["id"] for c in seen]
    assert sorted(ids) == sorted(c.graph_id for c in gate.world.conversations_of(page_id))
    times = [c["updated_time"] for c in seen]
    assert times == sorted(times, reverse=True)


def test_paging_under_concurrent_traffic_never_repeats_and_misses_only_moved_threads(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    before = {c.graph_id: c.updated_ms for c in gate.world.conversations_of(page_id)}
    seen = [c["id"] for c in walk(gate, page_id, between_pages=15, limit="5")]
    assert len(seen) == len(set(seen))
    unchanged = {g for g, ms in before.items() if gate.world.conversations[g].updated_ms == ms}
    assert unchanged <= set(seen)
    assert len(unchanged) < len(before)  # the traffic did move threads, so the property was exercised


def test_field_expansion_with_nested_messages(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    fields = (
        "id,updated_time,message_count,unread_count,snippet,participants,can_reply,link,"
        f"messages.limit(3){{{MESSAGE_FIELDS}}}"
    )
    status, body = get(gate, f"{page_id}/conversations", fields=fields, limit="2")
    assert status == 200
    conv = body["data"][0]
    world_conv = gate.world.conversations[conv["id"]]
    assert set(conv) == {
        "id",
        "updated_time",
        "message_count",
        "unread_count",
        "snippet",
        "participants",
        "can_reply",
        "link",
        "messages",
    }
    assert [m["id"] for m in conv["messages"]["data"]] == [m.mid for m in world_conv.visible()[:3]]
    assert conv["participants"]["data"][0]["id"] == world_conv.user_id
    assert conv["participants"]["data"][1]["id"] == page_id
    first = conv["messages"]["data"][0]
    assert {"id", "created_time", "from", "to", "message"} <= set(first)
    assert first["created_time"].endswith("+0000")


def test_unknown_field_and_bad_syntax_are_code_100(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    status, body = get(gate, f"{page_id}/conversations", fields="id,colour")
    assert (status, body["error"]["code"]) == (400, 100)
    status, body = get(gate, f"{page_id}/conversations", fields="messages{id")
    assert (status, body["error"]["code"]) == (400, 100)


def test_only_the_20_newest_messages_are_readable(gate: GraphState) -> None:
    conv = next(c for c in gate.world.conversations.values() if len(c.visible()) > 20)
    status, body = get(gate, f"{conv.graph_id}/messages", limit="100", fields="id")
    assert status == 200 and [m["id"] for m in body["data"]] == [m.mid for m in conv.visible()[:20]]
    assert get(gate, conv.visible()[19].mid, fields="id,message")[0] == 200
    status, body = get(gate, conv.visible()[20].mid)
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    assert body["error"]["fbtrace_id"]


def test_messages_edge_pages_with_cursors(gate: GraphState) -> None:
    conv = next(c for c in gate.world.conversations.values() if len(c.visible()) > 20)
    body = get(gate, f"{conv.graph_id}/messages", limit="8")[1]
    ids = [m["id"] for m in body["data"]]
    while "next" in body["paging"]:
        path, query = follow(body["paging"]["next"])
        token = gate.world.pages[conv.page_id].access_token
        body = gate.call(path, {"access_token": token} | query, link).body
        ids += [m["id"] for m in body["data"]]
    assert ids == [m.mid for m in conv.visible()[:20]]


def test_user_id_finds_the_conversation_and_since_is_ignored(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    conv = gate.world.conversations_of(page_id)[4]
    status, body = get(gate, f"{page_id}/conversations", user_id=conv.user_id)
    assert status == 200 and [c["id"] for c in body["data"]] == [conv.graph_id]
    everything = get(gate, f"{page_id}/conversations", limit="100")[1]["data"]
    assert get(gate, f"{page_id}/conversations", limit="100", since="9999999999")[1]["data"] == everything


def test_instagram_is_listed_at_its_linked_page_with_platform_instagram(gate: GraphState) -> None:
    account = gate.world.page(instagram_page(gate.world))
    linked = account.graph_page_id
    assert linked != account.page_id and linked not in gate.world.pages  # two ids, as on Meta
    assert get(gate, f"{linked}/conversations")[1]["data"] == []
    status, body = get(gate, f"{linked}/conversations", platform="instagram", fields="participants", limit="1")
    assert status == 200
    people = body["data"][0]["participants"]["data"]
    assert "username" in people[0] and people[1]["id"] == account.page_id  # the account id, not the Page's


def test_an_instagram_accounts_own_id_has_no_inbox(gate: GraphState) -> None:
    account = gate.world.page(instagram_page(gate.world))
    for edge in ("conversations", "subscribed_apps"):
        status, body = get(gate, f"{account.page_id}/{edge}", platform="instagram")
        assert (status, body["error"]["code"]) == (400, 100)
        assert f"nonexisting field ({edge}) on node type (IGUser)" in body["error"]["message"]
    assert get(gate, account.page_id)[0] == 200  # the account node itself exists
    assert get(gate, f"{account.graph_page_id}/subscribed_apps")[0] == 200


def test_too_much_data_is_code_1_and_large_limits_are_clamped(world: World, clock: FakeClock) -> None:
    gate = GraphState(
        world, GraphConfig(calls_per_second=1000, limits=Limits(max_limit=10, data_budget=100)), clock
    )
    page_id = messenger_page(world)
    status, body = get(gate, f"{page_id}/conversations", limit="6", fields="messages.limit(20){id}")
    assert (status, body["error"]["code"]) == (500, 1)
    assert "reduce the amount of data" in body["error"]["message"]
    assert get(gate, f"{page_id}/conversations", limit="5", fields="messages.limit(20){id}")[0] == 200
    assert len(get(gate, f"{page_id}/conversations", limit="500")[1]["data"]) == 10


def test_tokens_missing_wrong_expired_and_renewed(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    path = f"{page_id}/conversations"
    assert gate.call(path, {}, link).body["error"]["code"] == 104
    assert gate.call(path, {"access_token": "EAAGnope"}, link).body["error"]["code"] == 190
    other_token = gate.world.pages[instagram_page(gate.world)].access_token
    assert gate.call(path, {"access_token": other_token}, link).body["error"]["code"] == 10
    gate.expire_token(page_id)
    error = get(gate, path)[1]["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    gate.set_token(page_id, "EAAGfresh")
    assert gate.call(path, {"access_token": "EAAGfresh"}, link).status == 200
    assert gate.stats.auth_errors[page_id] == 3


def test_appsecret_proof_is_checked_when_sent(gate: GraphState) -> None:
    page_id = messenger_page(gate.world)
    token = gate.world.pages[page_id].access_token
    proof = hmac.new(b"s3cret", token.encode(), hashlib.sha256).hexdigest()
    assert (
        gate.call(f"{page_id}/conversations", {"access_token": token, "appsecret_proof": proof}, link).status == 200
    )
    bad = gate.call(f"{page_id}/conversations", {"access_token": token, "appsecret_proof": "0" * 64}, link)
    assert (bad.status, bad.body["error"]["code"]) == (400, 100)


def test_rate_limit_throttles_only_above_the_rate(world: World, clock: FakeClock) -> None:
    gate = GraphState(world, GraphConfig(calls_per_second=2.0), clock)
    page_id, other = messenger_page(world), world.page(instagram_page(world)).graph_page_id
    for _ in range(20):
        assert get(gate, f"{page_id}/conversations")[0] == 200
        clock.advance(0.5)
    assert gate.stats.throttled[page_id] == 0
    codes = [get(gate, f"{page_id}/conversations")[1].get("error", {}).get("code") for _ in range(3)]
    assert codes == [None, None, 613]
    assert gate.usage({page_id})[page_id].call_count == 100
    assert gate.usage({page_id})[page_id].regain_minutes == 1
    assert get(gate, f"{other}/conversations", platform="instagram")[0] == 200  # per page
    assert (gate.stats.calls[page_id], gate.stats.throttled[page_id]) == (23, 1)
    clock.advance(0.5)
    assert get(gate, f"{page_id}/conversations")[0] == 200


def test_throttle_code_80006(world: World, clock: FakeClock) -> None:
    gate = GraphState(world, GraphConfig(calls_per_second=1.0, throttle_code=80006), clock)
    page_id = messenger_page(world)
    get(gate, f"{page_id}/conversations")
    assert get(gate, f"{page_id}/conversations")[1]["error"]["code"] == 80006


def test_transient_failures(gate: GraphState) -> None:
    gate.controls.transient_failure_rate = 1.0
    status, body = get(gate, f"{messenger_page(gate.world)}/conversations")
    assert status == 500 and body["error"]["code"] == 2 and body["error"]["is_transient"] is True
    gate.controls.transient_failure_rate = 0.0
    assert get(gate, f"{messenger_page(gate.world)}/conversations")[0] == 200


def profile(gate: GraphState, user_id: str, token: str | None = None, **params: str) -> tuple[int, JSON]:
    page = gate.world.page(gate.world.person(user_id).page_id)
    answer = gate.call(user_id, {"access_token": token or page.access_token} | params, link)
    return answer.status, answer.body


def test_messenger_profiles_are_deterministic_people(gate: GraphState) -> None:
    conv = gate.world.conversations_of(messenger_page(gate.world))[0]
    status, body = profile(gate, conv.user_id, fields="first_name,last_name,profile_pic")
    first, last = conv.user_name.split(" ")
    assert status == 200
    assert body == {"first_name": first, "last_name": last, "profile_pic": body["profile_pic"]}
    assert body["profile_pic"].startswith("https://") and conv.user_id in body["profile_pic"]
    assert profile(gate, conv.user_id, fields="first_name,last_name,profile_pic") == (status, body)
    assert profile(gate, conv.user_id)[1].keys() == {"first_name", "last_name", "profile_pic", "id"}
    assert gate.stats.profiles[conv.user_id] == 3


def test_instagram_profiles_give_name_and_the_username_participants_carry(gate: GraphState) -> None:
    account = gate.world.page(instagram_page(gate.world))
    conv = gate.world.conversations_of(account.page_id)[0]
    status, body = profile(gate, conv.user_id, fields="name,username,profile_pic,follower_count")
    assert status == 200 and body["name"] == conv.user_name
    listed = get(gate, f"{account.graph_page_id}/conversations", platform="instagram", fields="participants",
                 user_id=conv.user_id)[1]
    assert body["username"] == listed["data"][0]["participants"]["data"][0]["username"]
    assert "follower_count" not in body  # accepted, and left out: the emulator has no value for it
    assert profile(gate, conv.user_id, fields="first_name")[1]["error"]["code"] == 100  # not an IG field


def test_a_person_who_blocked_the_page_is_refused_their_profile(gate: GraphState) -> None:
    messenger = gate.world.conversations_of(messenger_page(gate.world))[0]
    instagram = gate.world.conversations_of(instagram_page(gate.world))[0]
    for conv in (messenger, instagram):
        gate.world.block(conv.user_id)
    status, body = profile(gate, messenger.user_id, fields="first_name")
    assert (status, body["error"]["code"], body["error"]["error_subcode"]) == (400, 551, 1545041)
    status, body = profile(gate, instagram.user_id, fields="name")
    assert (status, body["error"]["code"]) == (400, 100)
    gate.world.block(messenger.user_id, blocked=False)
    assert profile(gate, messenger.user_id, fields="first_name")[0] == 200


def test_a_profile_needs_its_own_pages_token(gate: GraphState) -> None:
    conv = gate.world.conversations_of(messenger_page(gate.world))[0]
    other = gate.world.page(instagram_page(gate.world)).access_token
    assert profile(gate, conv.user_id, token=other)[1]["error"]["code"] == 10
    unknown = gate.call("9999999999999999", {"access_token": other}, link)
    assert (unknown.status, unknown.body["error"]["code"]) == (400, 100)
