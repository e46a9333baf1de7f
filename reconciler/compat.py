"""Response shapes (pure): the admin API's JSON, and the replaced app's exact answers.

The old app answered `POST /api/conversations/sync` with
`{"success", "syncMode", "synced", "inserted", "updated", "message"}` and `.../sync-all` with
`{"success", "totalPages", "totals": {"totalSynced", "successCount"}, "results": [...]}`.
`synced` is the conversations the run read from Graph and produced; `inserted`/`updated` are the rows
the consumers wrote for the run (the database's own counts, see `reconciler.admin`).
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
        elif key == "last_run" and isinstance(value, str):
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
    return f"Synced {run.get('conversations', 0)} conversations ({run.get('messages', 0)} messages)"


def sync_answer(run: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "success": run.get("status") == "succeeded",
        "syncMode": run.get("mode"),
        "synced": run.get("conversations", 0),
        "inserted": run.get("inserted", 0),
        "updated": run.get("updated", 0),
        "message": _message(run),
    }


def sync_rejected(message: str) -> dict[str, Any]:
    return {"success": False, "syncMode": None, "synced": 0, "inserted": 0, "updated": 0, "message": message}


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
