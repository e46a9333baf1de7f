"""Response shapes (pure): the admin API's JSON, and the replaced app's exact answers.

The old app answered `POST /api/conversations/sync` with
`{"success", "syncMode", "synced", "inserted", "updated", "message"}` and `.../sync-all` with
`{"success", "totalPages", "totals": {"totalSynced", "successCount"}, "results": [...]}`.
Its clients send `{"pageId": <the old app's own row id>, "facebookPageId": <Meta's id>}`: Meta's id is
`facebookPageId` when present, `pageId` otherwise. `synced` is the conversations the run inserted or
changed (`sync_runs.conversations_changed`), so a sync that found nothing new says 0 however many
conversations its overlap re-read; `inserted`/`updated` are the rows the consumers wrote for the run
(the database's own counts, see `reconciler.admin`). Errors answer `{"success": false, "error"}` with
the status code, as the old app did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    """A database row as JSON values: times as ISO text, jsonb text decoded."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif key in {"last_run", "subscription", "silence"} and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def run_id_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _message(run: Mapping[str, Any]) -> str:
    if run.get("status") != "succeeded":
        return f"Sync failed: {run.get('error') or 'unknown error'}"
    return (f"Synced {run.get('conversations_changed', 0)} new or changed conversations (read "
            f"{run.get('conversations', 0)} conversations, {run.get('messages', 0)} messages)")


def sync_answer(run: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "success": run.get("status") == "succeeded",
        "syncMode": run.get("mode"),
        "synced": run.get("conversations_changed", 0),
        "inserted": run.get("inserted", 0),
        "updated": run.get("updated", 0),
        "message": _message(run),
    }


def requested_page(body: Mapping[str, Any]) -> Any:
    """Meta's page id in an old client's request body (None when it names none)."""
    return body["facebookPageId"] if body.get("facebookPageId") not in (None, "") else body.get("pageId")


def error_answer(message: str) -> dict[str, Any]:
    return {"success": False, "error": message}


def page_result(page_id: str, page_name: str, run: Mapping[str, Any]) -> dict[str, Any]:
    answer = sync_answer(run)
    return {"pageId": page_id, "pageName": page_name, "synced": answer["synced"], "syncMode": answer["syncMode"],
            "success": answer["success"], "inserted": answer["inserted"], "updated": answer["updated"],
            "runId": run.get("run_id"), "message": answer["message"]}


def sync_all_answer(results: list[dict[str, Any]], skipped: Mapping[str, str]) -> dict[str, Any]:
    rejected = [{"pageId": pid, "pageName": None, "synced": 0, "syncMode": None, "success": False,
                 "inserted": 0, "updated": 0, "runId": None, "message": why} for pid, why in skipped.items()]
    everything = [*results, *rejected]
    succeeded = sum(1 for r in everything if r["success"])
    return {
        "success": succeeded == len(everything),
        "totalPages": len(everything),
        "totals": {"totalSynced": sum(r["synced"] for r in everything), "successCount": succeeded},
        "results": everything,
    }
