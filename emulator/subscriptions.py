"""Which app each page delivers webhooks to, and for which fields; and Meta giving up on a failing
endpoint (pure: the clock is passed in).

Meta sends a page's webhooks only to the apps subscribed on that page (`/{page-id}/subscribed_apps`),
and only for the fields each subscription names: a `message` needs `messages`, an echo
`message_echoes`, a read `message_reads`, and so on. Every page starts with the emulator's app
subscribed to every messaging field, unless `subscribed=False`.

When deliveries to the endpoint keep failing (every retry of a POST), Meta alerts and, after about an
hour of failures, unsubscribes the page: from then on its webhooks are lost until someone subscribes
the app again. `unsubscribe_after_s` is that hour on the emulator's clock (tests compress it to
seconds). A delivery that succeeds ends the run of failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from emulator import errors

# Every field of the Messenger Platform's page webhooks that carries what convsync stores, as Meta names them.
MESSAGING_FIELDS: tuple[str, ...] = (
    "messages", "message_echoes", "message_deliveries", "message_reads", "message_reactions", "message_edits",
    "messaging_postbacks", "messaging_referrals", "messaging_optins", "messaging_account_linking",
    "messaging_handovers", "messaging_policy_enforcement", "standby",
)
# The emulator's event kinds (emulator.model.WebhookEvent.kind) and the field each needs.
FIELD_OF_KIND = {
    "message": "messages", "unsend": "messages", "echo": "message_echoes", "delivery": "message_deliveries",
    "read": "message_reads", "reaction": "message_reactions", "message_edit": "message_edits",
    "postback": "messaging_postbacks", "referral": "messaging_referrals",
}


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    app_id: str = "900000000000001"  # the Meta app the emulated page tokens belong to
    app_name: str = "convsync"
    subscribed: bool = True  # pages start with the app subscribed to every messaging field
    unsubscribe_after_s: float = 3600.0  # failing deliveries for this long: the page is unsubscribed


@dataclass(slots=True)
class SubscriptionStats:
    withheld: Counter[str] = field(default_factory=Counter)  # events not sent: the page was not subscribed
    unsubscribed_by_failures: Counter[str] = field(default_factory=Counter)
    resubscribed: Counter[str] = field(default_factory=Counter)


class Subscriptions:
    def __init__(self, page_ids: Iterable[str], config: SubscriptionConfig) -> None:
        self.config = config
        self.stats = SubscriptionStats()
        self._fields: dict[str, frozenset[str]] = {
            p: frozenset(MESSAGING_FIELDS) for p in page_ids} if config.subscribed else {}
        self._failing_since: dict[str, float] = {}

    def fields(self, page_id: str) -> frozenset[str] | None:
        """The fields the app is subscribed to on this page; None when it is not subscribed."""
        return self._fields.get(page_id)

    def as_graph(self, page_id: str) -> list[dict[str, object]]:
        """`GET /{page-id}/subscribed_apps`'s `data`, in Meta's shape."""
        fields = self.fields(page_id)
        if fields is None:
            return []
        return [{"category": "Business", "link": f"https://convsync.example/{self.config.app_id}",
                 "name": self.config.app_name, "id": self.config.app_id,
                 "subscribed_fields": [f for f in MESSAGING_FIELDS if f in fields]}]

    def subscribe(self, page_id: str, wanted: str | None) -> None:
        """`POST /{page-id}/subscribed_apps?subscribed_fields=a,b`: the app's fields become exactly these."""
        names = [n.strip() for n in (wanted or "").split(",") if n.strip()]
        if not names:
            raise errors.bad_parameter("The parameter subscribed_fields is required")
        unknown = [n for n in names if n not in MESSAGING_FIELDS and n not in {"feed", "mention"}]
        if unknown:
            raise errors.bad_parameter(f"Param subscribed_fields[0] must be one of {{{', '.join(MESSAGING_FIELDS)}}} "
                                       f"- got \"{unknown[0]}\"")
        if page_id not in self._fields:
            self.stats.resubscribed[page_id] += 1
        self._fields[page_id] = frozenset(names)
        self._failing_since.pop(page_id, None)

    def unsubscribe(self, page_id: str) -> None:
        self._fields.pop(page_id, None)
        self._failing_since.pop(page_id, None)

    def drop_field(self, page_id: str, name: str) -> None:
        fields = self._fields.get(page_id)
        if fields is not None:
            self._fields[page_id] = fields - {name}

    def delivers(self, page_id: str, kind: str, standby: bool) -> bool:
        fields = self._fields.get(page_id)
        if fields is None:
            return False
        needed = "standby" if standby else FIELD_OF_KIND.get(kind, "messages")
        return needed in fields

    def withheld(self, page_id: str) -> None:
        self.stats.withheld[page_id] += 1

    def delivery_failed(self, page_id: str, now: float) -> None:
        """Every attempt of a POST with this page's events failed; after `unsubscribe_after_s` of that,
        the page is unsubscribed."""
        since = self._failing_since.setdefault(page_id, now)
        if now - since >= self.config.unsubscribe_after_s and page_id in self._fields:
            self.unsubscribe(page_id)
            self.stats.unsubscribed_by_failures[page_id] += 1

    def delivery_succeeded(self, page_id: str) -> None:
        self._failing_since.pop(page_id, None)
