"""Which object a Graph path names, and the JSON Meta answers for it (pure, given the world).

Paths: `{page-id}`, `{page-id}/conversations`, `{page-id}/subscribed_apps` (answered by the gate), `{conversation-id}`, `{conversation-id}/messages`,
`{message-id}`, and a person's profile `{PSID}` / `{IGSID}` (a person who blocked the page is refused:
Messenger code 551, Instagram code 100). An Instagram account's page id is its linked Facebook Page's (`Page.graph_page_id`);
asking for the account's own id with one of those edges answers Meta's "nonexisting field" error. Listing conversations is newest `updated_time` first with keyset cursors on
(`updated_time`, id): a conversation that moves to the top while a client pages is not listed twice,
and every conversation that did not change during the walk is listed exactly once. `since`/`until`
are ignored, as Meta ignores them on this edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from emulator import errors, render
from emulator.fields import Field, FieldsError, parse_fields
from emulator.model import JSON, Conversation, Message, Page
from emulator.world import World

TargetKind = Literal[
    "page", "conversations", "subscribed_apps", "conversation", "messages", "message", "profile"
]
PAGE_FIELDS = {"id", "name", "access_token"}


@dataclass(frozen=True, slots=True)
class Limits:
    max_limit: int = 100  # larger `limit` values are clamped, as Meta clamps them
    default_limit: int = 25
    data_budget: int = 1000  # conversations x nested messages per call before code 1


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    page: Page
    conversation: Conversation | None = None
    message: Message | None = None


def locate(world: World, path: str) -> Target:
    """The object a path names (raises Meta's 'does not exist' error)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or len(parts) > 2:
        raise errors.bad_parameter("Unknown path components: /" + "/".join(parts[1:]))
    head, edge = parts[0], parts[1] if len(parts) == 2 else None
    if head in world.graph_pages and edge in (None, "conversations", "subscribed_apps"):
        return Target(edge or "page", world.graph_pages[head])  # type: ignore[arg-type]  # edge is one of the kinds
    if head in world.pages and edge is None:
        return Target("page", world.pages[head])  # an Instagram account is a node of its own
    if head in world.pages and edge in ("conversations", "subscribed_apps"):
        # An Instagram account reached through Facebook Login is not where its inbox is listed: the
        # linked Facebook Page is (`GET /{page}/conversations?platform=instagram`), as Meta answers.
        raise errors.no_such_field(edge, "IGUser")
    if head in world.conversations and edge in (None, "messages"):
        conv = world.conversations[head]
        return Target("messages" if edge else "conversation", world.pages[conv.page_id], conv)
    if head in world.messages and edge is None:
        msg = world.messages[head]
        conv = world.conversation(msg.page_id, msg.user_id)
        if all(m.mid != head for m in conv.detail_window()):
            raise errors.not_found(head)
        return Target("message", world.pages[msg.page_id], conv, msg)
    if edge is None and (person := world.people.get(head)) is not None:
        return Target("profile", world.pages[person.page_id], person)
    raise errors.not_found(head)


def answer(world: World, target: Target, params: dict[str, str], limits: Limits, link: render.Linker) -> JSON:
    selection = _selection(params)
    if target.kind == "page":
        render.check_fields(selection or (), PAGE_FIELDS, "Page")
        return {"id": target.page.page_id, "name": target.page.name}
    if target.kind == "conversations":
        return _conversations(world, target.page, params, selection, limits, link)
    assert target.conversation is not None
    if target.kind == "profile":
        if target.conversation.blocked:
            raise errors.not_found(target.conversation.user_id) if target.page.platform == "instagram" \
                else errors.person_unavailable()
        return render.profile_json(target.page, target.conversation, selection)
    if target.kind == "conversation":
        return render.conversation_json(
            target.page, target.conversation, selection or render.CONVERSATION_DEFAULT, link
        )
    if target.kind == "messages":
        field = Field("messages", _limit(params, limits), selection)
        return render.messages_edge(target.page, target.conversation, field, params.get("after"), link)
    assert target.message is not None
    return render.message_json(
        target.page, target.conversation, target.message, selection or render.MESSAGE_DEFAULT
    )


def work_units(payload: JSON) -> int:
    """How many objects a response carried: what Meta's time/CPU budgets charge for."""
    data = payload.get("data")
    if not isinstance(data, list):
        return 1
    nested = sum(len(item.get("messages", {}).get("data", [])) for item in data if isinstance(item, dict))
    return 1 + len(data) + nested


def _selection(params: dict[str, str]) -> tuple[Field, ...] | None:
    text = params.get("fields")
    if not text:
        return None
    try:
        return parse_fields(text)
    except FieldsError as exc:
        raise errors.bad_parameter(str(exc)) from None


def _limit(params: dict[str, str], limits: Limits) -> int:
    raw = params.get("limit")
    if raw is None:
        return limits.default_limit
    if not raw.isdigit() or int(raw) < 1:
        raise errors.bad_parameter("Param limit must be a positive integer")
    return min(int(raw), limits.max_limit)


def _conversations(
    world: World,
    page: Page,
    params: dict[str, str],
    selection: tuple[Field, ...] | None,
    limits: Limits,
    link: render.Linker,
) -> JSON:
    _check_platform(params.get("platform"))
    selection = selection or render.CONVERSATION_DEFAULT
    limit = _limit(params, limits)
    nested = next((f.limit or render.DEFAULT_EDGE_LIMIT for f in selection if f.name == "messages"), 0)
    if limit * nested > limits.data_budget:
        raise errors.too_much_data()
    ordered = _ordered(world, page, params)
    if "after" in params:
        key = _sort_key_of(render.decode_cursor(params["after"]))
        ordered = [c for c in ordered if _key(c) < key]
    chunk = ordered[:limit]
    out: JSON = {"data": [render.conversation_json(page, c, selection, link) for c in chunk]}
    if chunk:
        cursors = {
            "before": render.encode_cursor(_cursor(chunk[0])),
            "after": render.encode_cursor(_cursor(chunk[-1])),
        }
        out["paging"] = {"cursors": cursors}
        if len(ordered) > limit:
            query = {k: v for k, v in params.items() if k not in {"after", "before"}} | {"after": cursors["after"]}
            out["paging"]["next"] = link(f"{page.page_id}/conversations", query)
    return out


def _check_platform(platform: str | None) -> None:
    if platform not in (None, "messenger", "instagram"):
        raise errors.bad_parameter("platform must be one of the following values: messenger, instagram")


def _ordered(world: World, page: Page, params: dict[str, str]) -> list[Conversation]:
    folder = params.get("folder", "inbox")
    convs = [c for c in world.conversations_of(page.page_id) if c.folder == folder and c.visible()]
    # Without platform=instagram the edge lists the linked Facebook Page's Messenger threads.
    platform = params.get("platform", "messenger")
    convs = [c for c in convs if c.platform == platform]
    if (user := params.get("user_id")) is not None:
        convs = [c for c in convs if c.user_id == user]
    return sorted(convs, key=_key, reverse=True)


def _key(conv: Conversation) -> tuple[int, str]:
    return (conv.updated_ms, conv.graph_id)


def _cursor(conv: Conversation) -> str:
    return f"{conv.updated_ms}:{conv.graph_id}"


def _sort_key_of(cursor: str) -> tuple[int, str]:
    ms, _, graph_id = cursor.partition(":")
    if not ms.isdigit() or not graph_id:
        raise errors.bad_parameter("Invalid cursor")
    return (int(ms), graph_id)
