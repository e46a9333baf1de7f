"""The world's vocabulary: pages, conversations, messages, reactions, and the webhook events they cause.

Messages and conversations are mutable (the world edits them in place); everything handed out to
callers as a fact (`WebhookEvent`, `Reaction`) is frozen. Times are Meta's epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.ids import Platform

JSON = dict[str, Any]
GRAPH_DETAIL_WINDOW = 20  # Meta answers details only for the 20 newest messages of a conversation


@dataclass(slots=True)
class Page:
    page_id: str
    platform: Platform
    name: str
    access_token: str
    # The Graph node its conversations are listed at: for an Instagram account reached through
    # Facebook Login the linked Facebook Page (a different id); for a Messenger page itself.
    graph_page_id: str = ""

    def __post_init__(self) -> None:
        self.graph_page_id = self.graph_page_id or self.page_id

    @property
    def webhook_object(self) -> str:
        """The `object` of the webhook body this page's events travel in."""
        return "instagram" if self.platform == "instagram" else "page"


@dataclass(frozen=True, slots=True)
class Reaction:
    reaction: str  # Meta's name: love, like, smile, wow, sad, angry, dislike, other
    emoji: str
    at_ms: int


@dataclass(slots=True)
class Message:
    mid: str
    page_id: str
    user_id: str
    sender_id: str
    recipient_id: str
    created_ms: int
    text: str | None = None
    attachments: list[JSON] = field(default_factory=list)
    sticker: str | None = None
    reply_to: str | None = None
    story: JSON | None = None  # Instagram: {"type": "reply", "url", "id"} or {"type": "mention", "url"}
    quick_reply: str | None = None
    app_id: int | None = None
    metadata: str | None = None
    is_deleted: bool = False
    edit_count: int = 0
    reactions: dict[str, Reaction] = field(default_factory=dict)  # by reacting user id

    @property
    def direction(self) -> str:
        return "outbound" if self.sender_id == self.page_id else "inbound"


@dataclass(slots=True)
class Conversation:
    graph_id: str
    page_id: str
    user_id: str
    user_name: str
    platform: Platform
    updated_ms: int
    folder: str = "inbox"
    standby: bool = False  # another app controls the thread: Meta sends its events as `standby`
    owner_app_id: str | None = None  # the app a handover last gave the thread to
    blocked: bool = False  # the person blocked the page: Meta refuses their profile
    messages: list[Message] = field(default_factory=list)  # oldest first
    delivered_watermark: int | None = None
    read_watermark: int | None = None

    def visible(self) -> list[Message]:
        """Messages the Graph API still lists (unsent ones are gone), newest first."""
        return [m for m in reversed(self.messages) if not m.is_deleted]

    def detail_window(self) -> list[Message]:
        """The newest messages Meta answers in detail; older ones answer 'does not exist'."""
        return self.visible()[:GRAPH_DETAIL_WINDOW]

    def unread_count(self) -> int:
        count = 0
        for message in self.visible():
            if message.direction == "outbound":
                break
            count += 1
        return count


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One `messaging[]` item for one page: what Meta would POST about one change of the world."""

    page_id: str
    platform: Platform
    event: JSON
    standby: bool = False

    @property
    def kind(self) -> str:
        for key in ("message_edit", "reaction", "delivery", "read", "postback", "referral"):
            if key in self.event:
                return key
        if any(k.endswith("_thread_control") for k in self.event):
            return "handover"
        message = self.event.get("message", {})
        if message.get("is_echo"):
            return "echo"
        return "unsend" if message.get("is_deleted") else "message"
