"""What a page's webhook subscription needs (pure): the check's decision.

`GET /{page}/subscribed_apps` lists the apps subscribed on the page with their `subscribed_fields`.
The page is fine when the app `CONVSYNC_APP_ID` is there with every field convsync wants; otherwise it
must be subscribed again with the full list (`POST /{page}/subscribed_apps?subscribed_fields=...`,
which replaces the app's list). A dead token is no subscription failure: the page needs a new token.

    decision = decide(answer_body, app_id, wanted)
    decision.status        "ok" | "missing"
    decision.repair        the field list to POST, or None
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["ok", "missing", "fixed", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class Decision:
    status: Literal["ok", "missing"]
    fields: tuple[str, ...]  # what the app is subscribed to now (empty: not at all)
    lacking: tuple[str, ...]  # wanted fields it lacks (all of them when the app is missing)
    app_subscribed: bool

    @property
    def repair(self) -> str | None:
        return None if self.status == "ok" else ",".join(sorted({*self.fields, *self.lacking}))


def decide(body: Mapping[str, Any], app_id: str, wanted: Sequence[str]) -> Decision:
    """From a `subscribed_apps` answer: is the app there with every wanted field?"""
    apps = body.get("data")
    entry = next((a for a in apps if isinstance(a, dict) and str(a.get("id")) == app_id), None) \
        if isinstance(apps, list) else None
    raw_fields = entry.get("subscribed_fields") if entry else None
    fields = tuple(f for f in raw_fields if isinstance(f, str)) if isinstance(raw_fields, list) else ()
    lacking = tuple(f for f in wanted if f not in fields)
    status: Literal["ok", "missing"] = "ok" if entry is not None and not lacking else "missing"
    return Decision(status, fields, lacking, entry is not None)
