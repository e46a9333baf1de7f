"""Webhook `messaging[]` items exactly as Meta shapes them, built from the world's model (pure).

Echoes swap sender and recipient and carry `app_id` as a JSON number; Instagram reads name a `mid`
instead of a watermark; Instagram unsends are a `message` with `is_deleted: true`.
"""

from __future__ import annotations

from emulator.model import JSON, Conversation, Message, Page, Reaction, WebhookEvent


def _envelope(page: Page, sender: str, recipient: str, at_ms: int, **body: object) -> WebhookEvent:
    event: JSON = {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": at_ms, **body}
    return WebhookEvent(page.page_id, page.platform, event)


def _from_user(page: Page, conv: Conversation, at_ms: int, **body: object) -> WebhookEvent:
    return _envelope(page, conv.user_id, page.page_id, at_ms, **body)


def message(page: Page, msg: Message) -> WebhookEvent:
    body: JSON = {"mid": msg.mid}
    if msg.direction == "outbound":
        body["is_echo"] = True
        if msg.app_id is not None:
            body["app_id"] = msg.app_id
        if msg.metadata is not None:
            body["metadata"] = msg.metadata
    if msg.text is not None:
        body["text"] = msg.text
    if msg.attachments:
        body["attachments"] = msg.attachments
    if msg.sticker is not None:
        body["sticker_id"] = int(msg.attachments[0]["payload"]["sticker_id"]) if msg.attachments else 0
    if msg.quick_reply is not None:
        body["quick_reply"] = {"payload": msg.quick_reply}
    if msg.reply_to is not None:
        body["reply_to"] = {"mid": msg.reply_to}
    if msg.story is not None and msg.story["type"] == "reply":
        body["reply_to"] = {"story": {"url": msg.story["url"], "id": msg.story["id"]}}
    return _envelope(page, msg.sender_id, msg.recipient_id, msg.created_ms, message=body)


def unsend(page: Page, conv: Conversation, msg: Message, at_ms: int) -> WebhookEvent:
    return _from_user(page, conv, at_ms, message={"mid": msg.mid, "is_deleted": True})


def edit(page: Page, conv: Conversation, msg: Message, at_ms: int) -> WebhookEvent:
    body = {"mid": msg.mid, "text": msg.text, "num_edit": msg.edit_count}
    return _from_user(page, conv, at_ms, message_edit=body)


def reaction(page: Page, conv: Conversation, mid: str, action: str, r: Reaction) -> WebhookEvent:
    body = {"mid": mid, "action": action, "reaction": r.reaction, "emoji": r.emoji}
    return _from_user(page, conv, r.at_ms, reaction=body)


def delivery(page: Page, conv: Conversation, mids: list[str], at_ms: int) -> WebhookEvent:
    return _from_user(page, conv, at_ms, delivery={"mids": mids, "watermark": at_ms})


def read(page: Page, conv: Conversation, msg: Message, at_ms: int) -> WebhookEvent:
    body: JSON = {"mid": msg.mid} if page.platform == "instagram" else {"watermark": at_ms}
    return _from_user(page, conv, at_ms, read=body)


def postback(page: Page, conv: Conversation, title: str, payload: str, mid: str, at_ms: int) -> WebhookEvent:
    return _from_user(page, conv, at_ms, postback={"title": title, "payload": payload, "mid": mid})


def handover(page: Page, conv: Conversation, action: str, app_id: str, previous: str | None,
             at_ms: int) -> WebhookEvent:
    """`pass_thread_control` (names the new owner), `take_thread_control` (names both) or
    `request_thread_control` (names the app that asks), as Meta sends them to the Handover Protocol apps."""
    body: JSON
    if action == "pass":
        body = {"new_owner_app_id": app_id, "metadata": "passed"}
    elif action == "take":
        body = {"previous_owner_app_id": previous, "new_owner_app_id": app_id, "metadata": "taken"}
    else:
        body = {"requested_owner_app_id": app_id, "metadata": "requested"}
    return _from_user(page, conv, at_ms, **{f"{action}_thread_control": body})


def referral(page: Page, conv: Conversation, ref: str, at_ms: int) -> WebhookEvent:
    body = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return _from_user(page, conv, at_ms, referral=body)
