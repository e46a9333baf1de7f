"""Graph API JSON for conversations and messages, shaped by a `fields` selection (pure).

Field names a node does not have answer Meta's "nonexisting field" error; empty values are left out
the way Meta leaves them out. Edges (`messages`) render as `{"data": [...], "paging": {...}}`, listing
only the 20 newest messages: older ones cannot be read in detail.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from emulator import errors
from emulator.fields import Field
from emulator.model import JSON, Conversation, Message, Page

Linker = Callable[[str, dict[str, str]], str]  # (path without version, query) -> absolute URL

CONVERSATION_FIELDS = {
    "id",
    "updated_time",
    "message_count",
    "unread_count",
    "snippet",
    "participants",
    "senders",
    "can_reply",
    "link",
    "messages",
    "name",
    "subject",
    "is_subscribed",
}
MESSAGE_FIELDS = {"id", "created_time", "from", "to", "message", "attachments", "sticker", "shares", "tags"}
# The User Profile APIs (`GET /{PSID}`, `GET /{IGSID}` with the page's token). Fields the emulator
# has no value for (locale, follower_count, ...) are accepted and left out, as Meta leaves out what
# the app may not see.
MESSENGER_PROFILE_FIELDS = {"id", "name", "first_name", "last_name", "profile_pic", "locale", "timezone", "gender"}
INSTAGRAM_PROFILE_FIELDS = {
    "id", "name", "username", "profile_pic", "follower_count", "is_user_follow_business",
    "is_business_follow_user", "is_verified_user",
}
MESSENGER_PROFILE_DEFAULT = (Field("first_name"), Field("last_name"), Field("profile_pic"), Field("id"))
INSTAGRAM_PROFILE_DEFAULT = (Field("name"), Field("username"), Field("profile_pic"), Field("id"))
CONVERSATION_DEFAULT = (Field("id"), Field("updated_time"))
MESSAGE_DEFAULT = (Field("id"), Field("created_time"))
DEFAULT_EDGE_LIMIT = 25


@functools.lru_cache(maxsize=1 << 16)
def graph_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_parameter("Invalid cursor") from None


def check_fields(selection: Sequence[Field], allowed: set[str], node: str) -> None:
    for field in selection:
        if field.name not in allowed:
            raise errors.no_such_field(field.name, node)


def person(world_page: Page, user_id: str, name: str) -> JSON:
    if world_page.platform == "instagram":
        return {"username": username(name), "id": user_id}
    return {"name": name, "email": f"{user_id}@facebook.com", "id": user_id}


def username(name: str) -> str:
    return name.lower().replace(" ", "_")


def profile_json(page: Page, conv: Conversation, selection: Sequence[Field] | None) -> JSON:
    """A person's profile as the page may see it; deterministic from the conversation's user."""
    instagram = page.platform == "instagram"
    if selection is None:
        selection = INSTAGRAM_PROFILE_DEFAULT if instagram else MESSENGER_PROFILE_DEFAULT
    check_fields(selection, INSTAGRAM_PROFILE_FIELDS if instagram else MESSENGER_PROFILE_FIELDS,
                 "User" if instagram else "UserProfile")
    first, _, last = conv.user_name.partition(" ")
    values: dict[str, str] = {
        "id": conv.user_id,
        "name": conv.user_name,
        "profile_pic": f"https://profile-pictures.emulator.invalid/{conv.user_id}.jpg",
    }
    values |= {"username": username(conv.user_name)} if instagram else {"first_name": first, "last_name": last}
    return {f.name: values[f.name] for f in selection if f.name in values}


def participants(page: Page, conv: Conversation) -> JSON:
    return {"data": [person(page, conv.user_id, conv.user_name), person(page, page.page_id, page.name)]}


def message_json(page: Page, conv: Conversation, msg: Message, selection: Sequence[Field]) -> JSON:
    check_fields(selection, MESSAGE_FIELDS, "Message")
    user, us = participants(page, conv)["data"]
    sender, recipient = (user, us) if msg.direction == "inbound" else (us, user)
    values: dict[str, Callable[[], object]] = {
        "id": lambda: msg.mid,
        "created_time": lambda: graph_time(msg.created_ms),
        "from": lambda: sender,
        "to": lambda: {"data": [recipient]},
        "message": lambda: msg.text or "",
        "attachments": lambda: _attachments(msg),
        "sticker": lambda: msg.sticker,
    }
    out: JSON = {}
    for field in selection:
        if field.name in values and (value := values[field.name]()) is not None:
            out[field.name] = value
    return out


def _attachments(msg: Message) -> JSON | None:
    if not msg.attachments or msg.sticker is not None:
        return None
    data = []
    for n, item in enumerate(msg.attachments):
        url = item["payload"]["url"]
        image = {"width": 640, "height": 480, "max_width": 640, "max_height": 480, "url": url, "preview_url": url}
        attachment_id = str(int(hashlib.sha256(f"{msg.mid}:{n}".encode()).hexdigest()[:12], 16))
        data.append(
            {
                "id": attachment_id,
                "mime_type": "image/jpeg",
                "name": "image.jpg",
                "size": 48213,
                "image_data": image,
            }
        )
    return {"data": data}


def conversation_json(page: Page, conv: Conversation, selection: Sequence[Field], link: Linker) -> JSON:
    check_fields(selection, CONVERSATION_FIELDS, "Conversation")
    out: JSON = {}
    for field in selection:
        value = _conversation_value(page, conv, field, link)
        if value is not None:
            out[field.name] = value
    return out


def _conversation_value(page: Page, conv: Conversation, field: Field, link: Linker) -> object:
    simple: dict[str, Callable[[], object]] = {
        "id": lambda: conv.graph_id,
        "updated_time": lambda: graph_time(conv.updated_ms),
        "message_count": lambda: len(conv.visible()),
        "unread_count": lambda: conv.unread_count(),
        "snippet": lambda: _snippet(conv),
        "participants": lambda: participants(page, conv),
        "senders": lambda: participants(page, conv),
        "can_reply": lambda: True,
        "link": lambda: f"/{page.page_id}/inbox/{conv.graph_id[2:]}/",
        "is_subscribed": lambda: True,
    }
    if field.name == "messages":
        return messages_edge(page, conv, field, None, link)
    getter = simple.get(field.name)
    return getter() if getter else None


def _snippet(conv: Conversation) -> str | None:
    newest = next((m for m in reversed(conv.messages) if not m.is_deleted), None)
    return None if newest is None else newest.text or ""


def messages_edge(page: Page, conv: Conversation, field: Field, after: str | None, link: Linker) -> JSON:
    """The `messages` edge of a conversation: newest first, only within the detail window."""
    window = conv.detail_window()
    start = 0
    if after is not None:
        key = decode_cursor(after)
        start = next((n + 1 for n, m in enumerate(window) if m.mid == key), len(window))
    limit = field.limit if field.limit is not None else DEFAULT_EDGE_LIMIT
    chunk = window[start : start + limit]
    data = [message_json(page, conv, m, field.sub or MESSAGE_DEFAULT) for m in chunk]
    edge: JSON = {"data": data}
    if chunk:
        cursors = {"before": encode_cursor(chunk[0].mid), "after": encode_cursor(chunk[-1].mid)}
        edge["paging"] = {"cursors": cursors}
        if start + limit < len(window):
            query = {
                "limit": str(limit),
                "after": cursors["after"],
                "fields": _field_text(field.sub or MESSAGE_DEFAULT),
            }
            edge["paging"]["next"] = link(f"{conv.graph_id}/messages", query)
    return edge


def _field_text(selection: Sequence[Field]) -> str:
    parts = []
    for f in selection:
        text = f.name + (f".limit({f.limit})" if f.limit is not None else "")
        parts.append(text + ("{" + _field_text(f.sub) + "}" if f.sub else ""))
    return ",".join(parts)
