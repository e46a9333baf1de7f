"""Webhook bodies as Meta serialises and signs them (pure).

Meta's bodies are ASCII JSON: non-ASCII characters become `\\uXXXX` escapes (surrogate pairs beyond
the BMP) and `/` is escaped as `\\/`. The signature is over those exact bytes:
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>` (plus the legacy SHA-1 header).
A receiver that re-serialises the JSON before hashing gets a different digest, which is the point.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from emulator.model import JSON, WebhookEvent


def meta_json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def signature_256(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_1(app_secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


def signed_headers(app_secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_256(app_secret, body),
        "X-Hub-Signature": signature_1(app_secret, body),
    }


def webhook_body(events: list[WebhookEvent], entry_time_ms: int | None = None) -> JSON:
    """One POST body: one `entry` per page (in first-seen order) holding that page's events
    under `messaging`, or `standby` for threads another app controls."""
    if len({e.platform == "instagram" for e in events}) > 1:
        raise ValueError("one body carries either Messenger or Instagram events, not both")
    entries: dict[str, JSON] = {}
    for event in events:
        entry = entries.setdefault(event.page_id, {"id": event.page_id, "time": 0})
        entry.setdefault("standby" if event.standby else "messaging", []).append(event.event)
        entry["time"] = max(entry["time"], entry_time_ms or int(event.event.get("timestamp", 0)))
    obj = "instagram" if events and events[0].platform == "instagram" else "page"
    return {"object": obj, "entry": list(entries.values())}
