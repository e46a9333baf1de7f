"""The world: pages, users, conversations and messages, seeded deterministically.

Every change goes through a method that both updates the world and returns the webhook events Meta
would send about it, so traffic is simply mutations -> events -> signed POSTs, and the Graph API and
the ground truth read the same state the webhooks describe. The same seed gives the same world and,
for the same sequence of calls, the same ids and events.

Time: with no `clock`, the world keeps its own simulated clock that moves forward a little on every
change (deterministic); with a `clock` (epoch ms) it follows it, never going backwards.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from emulator import events, ids
from emulator.ids import Platform
from emulator.model import Conversation, Message, Page, Reaction, WebhookEvent

REACTIONS = {
    "love": "\u2764",
    "like": "\U0001f44d",
    "smile": "\U0001f606",
    "wow": "\U0001f62e",
    "sad": "\U0001f622",
}
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class WorldConfig:
    seed: int = 1
    pages: int = 2
    instagram_pages: int = 0  # how many of `pages` are Instagram accounts (the rest are Messenger)
    conversations_per_page: int = 10
    messages_per_conversation: int = 5
    start_ms: int = 1_780_000_000_000  # the world's "now" when seeded; history lies before it
    history_ms: int = 7 * DAY_MS
    app_id: int = 1_517_263_498_203_847  # echoes of messages our app sent carry this id
    standby_share: float = 0.0  # share of new threads another app controls (their events come as `standby`)


class UnknownObject(LookupError):
    """No page, conversation or message with that id."""


class World:
    def __init__(self, config: WorldConfig, clock: Callable[[], int] | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self._clock = clock
        self._last_ms = config.start_ms
        self.pages: dict[str, Page] = {}  # by the id webhooks carry (an Instagram account's own id)
        self.graph_pages: dict[str, Page] = {}  # by the Graph node that lists their conversations
        self.conversations: dict[str, Conversation] = {}  # by graph id (t_...)
        self._by_user: dict[tuple[str, str], Conversation] = {}
        self._by_page: dict[str, list[Conversation]] = {}
        self.people: dict[str, Conversation] = {}  # by the user's page-scoped id (PSID, IGSID)
        self.messages: dict[str, Message] = {}
        for n in range(config.pages):
            self._seed_page(n)

    # ---------------------------------------------------------------- lookup

    def page(self, page_id: str) -> Page:
        try:
            return self.pages[page_id]
        except KeyError:
            raise UnknownObject(page_id) from None

    def conversation(self, page_id: str, user_id: str) -> Conversation:
        try:
            return self._by_user[(page_id, user_id)]
        except KeyError:
            raise UnknownObject(f"{page_id}:{user_id}") from None

    def person(self, user_id: str) -> Conversation:
        """The conversation of a person, by their page-scoped id (each id belongs to one page)."""
        try:
            return self.people[user_id]
        except KeyError:
            raise UnknownObject(user_id) from None

    def conversation_of(self, mid: str) -> Conversation:
        message = self.message(mid)
        return self._by_user[(message.page_id, message.user_id)]

    def message(self, mid: str) -> Message:
        try:
            return self.messages[mid]
        except KeyError:
            raise UnknownObject(mid) from None

    def conversations_of(self, page_id: str) -> list[Conversation]:
        return list(self._by_page.get(page_id, ()))

    def pick_conversation(self, page_id: str, rng: random.Random) -> Conversation | None:
        """A random conversation of the page, in O(1) (traffic picks one per change)."""
        convs = self._by_page.get(page_id)
        return rng.choice(convs) if convs else None

    def read_ms(self) -> int:
        """The moment of a Graph API read, which is part of the timeline too: after every change so far
        (a second later in simulated time, so the read's second-resolution `Date` header orders after
        them), and every later change comes after it."""
        proposal = self._clock() if self._clock else self._last_ms + 1000
        self._last_ms = max(proposal, self._last_ms + 1)
        return self._last_ms

    def now_ms(self) -> int:
        """The time of the next change: strictly after every earlier one."""
        proposal = self._clock() if self._clock else self._last_ms + self.rng.randint(1, 2000)
        self._last_ms = max(proposal, self._last_ms + 1)
        return self._last_ms

    # ---------------------------------------------------------------- seeding

    def _seed_page(self, n: int) -> None:
        platform: Platform = "instagram" if n < self.config.instagram_pages else "messenger"
        page_id = ids.page_id(self.rng, platform)
        page = Page(
            page_id,
            platform,
            f"{platform.title()} Page {n + 1}",
            ids.access_token(self.rng),
            ids.linked_page_id(page_id) if platform == "instagram" else page_id,
        )
        self.pages[page.page_id] = page
        self.graph_pages[page.graph_page_id] = page
        for _ in range(self.config.conversations_per_page):
            conv = self.new_conversation(page.page_id)
            times = sorted(
                self.config.start_ms - self.rng.randint(1, self.config.history_ms)
                for _ in range(self.config.messages_per_conversation)
            )
            for at_ms in times:
                self._add_message(conv, inbound=self.rng.random() < 0.6, at_ms=at_ms, text=self._text())

    def new_conversation(self, page_id: str) -> Conversation:
        """A new user starts talking to the page (no event yet: their first message is the event)."""
        page = self.page(page_id)
        user = ids.user_id(self.rng, page.platform)
        conv = Conversation(ids.conversation_id(self.rng), page_id, user, f"User {user[-4:]}", page.platform, 0)
        conv.standby = self.config.standby_share > 0 and self.rng.random() < self.config.standby_share
        self.conversations[conv.graph_id] = conv
        self._by_user[(page_id, user)] = conv
        self._by_page.setdefault(page_id, []).append(conv)
        self.people[user] = conv
        return conv

    def _text(self) -> str:
        words = (
            "hello",
            "order",
            "refund",
            "thanks",
            "where",
            "is",
            "my",
            "parcel",
            "caf\u00e9",
            "ok",
            "\U0001f600",
            "/path",
        )
        return " ".join(self.rng.choice(words) for _ in range(self.rng.randint(1, 8)))

    def _add_message(self, conv: Conversation, *, inbound: bool, at_ms: int, **content: object) -> Message:
        page_id = conv.page_id
        sender, recipient = (conv.user_id, page_id) if inbound else (page_id, conv.user_id)
        msg = Message(ids.message_id(self.rng, conv.platform), page_id, conv.user_id, sender, recipient, at_ms)
        for name, value in content.items():
            setattr(msg, name, value)
        bisect.insort(conv.messages, msg, key=lambda m: m.created_ms)
        conv.updated_ms = max(conv.updated_ms, at_ms)
        self.messages[msg.mid] = msg
        return msg

    # ---------------------------------------------------------------- changes -> events

    def user_message(
        self,
        page_id: str,
        user_id: str | None = None,
        *,
        kind: str = "text",
        text: str | None = None,
        reply_to: str | None = None,
    ) -> list[WebhookEvent]:
        """A user writes (`kind`: text, image, sticker, quick_reply, and on Instagram story_reply, story_mention);
        `user_id=None` opens a new conversation."""
        conv = self.new_conversation(page_id) if user_id is None else self.conversation(page_id, user_id)
        content: dict[str, object] = {"text": text if text is not None else self._text(), "reply_to": reply_to}
        if kind == "image":
            content = {
                "attachments": [
                    {
                        "type": "image",
                        "payload": {"url": f"https://scontent.example/{self.rng.getrandbits(40)}.jpg"},
                    }
                ],
                "reply_to": reply_to,
            }
        elif kind == "sticker":
            url = f"https://scontent.example/sticker/{self.rng.getrandbits(32)}.png"
            content = {
                "attachments": [{"type": "image", "payload": {"url": url, "sticker_id": 369239263222822}}],
                "sticker": url,
            }
        elif kind == "quick_reply":
            content["quick_reply"] = f"QR_{self.rng.randint(1, 9)}"
        elif kind in ("story_reply", "story_mention"):
            if conv.platform != "instagram":
                raise ValueError("stories are Instagram's")
            story_id = str(self.rng.randint(10**16, 10**17 - 1))
            url = f"https://lookaside.example/story/{story_id}"
            if kind == "story_reply":
                content["story"] = {"type": "reply", "url": url, "id": story_id}
            else:  # a mention has no text, only the attachment
                content = {"story": {"type": "mention", "url": url},  # Meta gives a mention's URL only
                           "attachments": [{"type": "story_mention", "payload": {"url": url}}]}
        msg = self._add_message(conv, inbound=True, at_ms=self.now_ms(), **content)
        return self._emit(events.message(self.page(page_id), msg))

    def page_message(
        self,
        page_id: str,
        user_id: str,
        *,
        text: str | None = None,
        metadata: str | None = None,
        from_app: bool = True,
    ) -> list[WebhookEvent]:
        """The page answers (an agent, or our app when `from_app`): Meta sends an echo."""
        conv = self.conversation(page_id, user_id)
        app_id = self.config.app_id if from_app else None
        msg = self._add_message(
            conv, inbound=False, at_ms=self.now_ms(), text=text or self._text(), app_id=app_id, metadata=metadata
        )
        return self._emit(events.message(self.page(page_id), msg))

    def deliver(self, page_id: str, user_id: str) -> list[WebhookEvent]:
        """The user's device received the page's messages (Messenger only; Instagram sends no deliveries)."""
        conv, page = self.conversation(page_id, user_id), self.page(page_id)
        if page.platform == "instagram":
            return []
        at_ms = self.now_ms()
        mids = [
            m.mid
            for m in conv.messages
            if m.direction == "outbound" and (conv.delivered_watermark or 0) < m.created_ms
        ]
        conv.delivered_watermark = at_ms
        return self._emit(events.delivery(page, conv, mids, at_ms))

    def read(self, page_id: str, user_id: str) -> list[WebhookEvent]:
        """The user read the thread: a watermark (Messenger) or the newest page message's mid (Instagram)."""
        conv, page = self.conversation(page_id, user_id), self.page(page_id)
        outbound = [m for m in conv.messages if m.direction == "outbound" and not m.is_deleted]
        if not outbound:
            return []
        at_ms = self.now_ms()
        conv.read_watermark = outbound[-1].created_ms if page.platform == "instagram" else at_ms
        return self._emit(events.read(page, conv, outbound[-1], at_ms))

    def react(self, mid: str, reaction: str = "love") -> list[WebhookEvent]:
        """The user reacts to a message of their conversation (replacing an earlier reaction)."""
        conv, page = self.conversation_of(mid), self.page(self.message(mid).page_id)
        r = Reaction(reaction, REACTIONS.get(reaction, "\u2764"), self.now_ms())
        self.message(mid).reactions[conv.user_id] = r
        return self._emit(events.reaction(page, conv, mid, "react", r))

    def unreact(self, mid: str) -> list[WebhookEvent]:
        conv, message = self.conversation_of(mid), self.message(mid)
        previous = message.reactions.pop(conv.user_id, None)
        if previous is None:
            return []
        r = Reaction(previous.reaction, previous.emoji, self.now_ms())
        return self._emit(events.reaction(self.page(message.page_id), conv, mid, "unreact", r))

    def edit(self, mid: str, text: str | None = None) -> list[WebhookEvent]:
        """The user edits their own text message: `message_edit` with the new `num_edit`."""
        conv, message = self.conversation_of(mid), self.message(mid)
        if message.direction != "inbound" or message.text is None or message.is_deleted:
            raise ValueError("only a user's own text message can be edited")
        message.text, message.edit_count = text or self._text(), message.edit_count + 1
        return self._emit(events.edit(self.page(message.page_id), conv, message, self.now_ms()))

    def unsend(self, mid: str) -> list[WebhookEvent]:
        """An Instagram user unsends their message: it leaves the Graph API, the webhook says `is_deleted`."""
        conv, message = self.conversation_of(mid), self.message(mid)
        if conv.platform != "instagram" or message.direction != "inbound":
            raise ValueError("only an Instagram user's own message can be unsent")
        message.is_deleted = True
        return self._emit(events.unsend(self.page(message.page_id), conv, message, self.now_ms()))

    def unsend_silently(self, mid: str) -> list[WebhookEvent]:
        """A message unsent where Meta sends no webhook (Instagram on the web): it only leaves the
        Graph API, so only a sync that reads its conversation can notice."""
        message = self.message(mid)
        if message.is_deleted:
            raise ValueError("the message is already unsent")
        message.is_deleted = True
        return []

    def postback(self, page_id: str, user_id: str, payload: str = "GET_STARTED") -> list[WebhookEvent]:
        conv = self.conversation(page_id, user_id)
        mid = ids.message_id(self.rng, conv.platform)
        return self._emit(events.postback(self.page(page_id), conv, payload.title(), payload, mid, self.now_ms()))

    def referral(self, page_id: str, user_id: str, ref: str = "summer-promo") -> list[WebhookEvent]:
        conv = self.conversation(page_id, user_id)
        return self._emit(events.referral(self.page(page_id), conv, ref, self.now_ms()))

    def handover(self, page_id: str, user_id: str, action: str, app_id: str) -> list[WebhookEvent]:
        """The Handover Protocol: `pass` gives the thread to `app_id`, `take` takes it for `app_id`,
        `request` asks for it on behalf of `app_id` (control does not move)."""
        if action not in ("pass", "take", "request"):
            raise ValueError("a handover is pass, take or request")
        conv = self.conversation(page_id, user_id)
        previous = conv.owner_app_id
        if action != "request":
            conv.owner_app_id = app_id
        return self._emit(events.handover(self.page(page_id), conv, action, app_id, previous, self.now_ms()))

    def move(self, page_id: str, user_id: str, folder: str) -> None:
        """An agent files the conversation in another folder of the inbox: Meta sends no webhook."""
        self.conversation(page_id, user_id).folder = folder

    def block(self, user_id: str, blocked: bool = True) -> None:
        """The person blocks the page (or unblocks it): Meta sends no webhook, and refuses their
        profile to the page (Messenger code 551, Instagram code 100)."""
        self.person(user_id).blocked = blocked

    def _emit(self, event: WebhookEvent) -> list[WebhookEvent]:
        """Events of a thread another app controls travel in `standby` instead of `messaging`."""
        sender, recipient = event.event["sender"]["id"], event.event["recipient"]["id"]
        conv = self._by_user[(event.page_id, recipient if sender == event.page_id else sender)]
        return [dataclasses.replace(event, standby=True) if conv.standby else event]

    def set_token(self, page_id: str, token: str) -> None:
        self.page(page_id).access_token = token
