"""Admin request validation and response shapes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler import compat
from reconciler.requests import BadRequest, json_object, page_request, sync_mode
from reconciler.run import resolve_mode


def test_page_request() -> None:
    wanted = page_request({"page_id": "178", "graph_page_id": "104", "platform": "instagram", "name": "Shop",
                           "access_token": " T "})
    assert (wanted.page_id, wanted.graph_page_id, wanted.platform, wanted.access_token) == ("178", "104", "instagram", "T")
    assert "T" not in repr(wanted).replace("True", "")
    assert page_request({"page_id": "123", "access_token": "T"}).graph_page_id == "123"  # Messenger: itself
    assert page_request({"page_id": "123", "graph_page_id": "123", "access_token": "T"}).graph_page_id == "123"
    for bad in [{"platform": "messenger", "access_token": "T"}, {"page_id": "1", "platform": "sms", "access_token": "T"},
                {"page_id": "1", "access_token": ""}, {"page_id": "a b", "access_token": "T"},
                {"page_id": "..", "access_token": "T"}, {"page_id": "a/../b", "access_token": "T"},
                {"page_id": "178", "platform": "instagram", "access_token": "T"},  # the linked Page is required
                {"page_id": "178", "platform": "instagram", "graph_page_id": "a b", "access_token": "T"},
                {"page_id": "123", "graph_page_id": "456", "access_token": "T"}]:  # Messenger is its own node
        with pytest.raises(BadRequest):
            page_request(bad)


def test_json_and_mode() -> None:
    assert json_object(b"", empty_ok=True) == {}
    for raw in [b"{", b"[1]", b""]:
        with pytest.raises(BadRequest):
            json_object(raw)
    assert sync_mode({}) == "auto"
    with pytest.raises(BadRequest):
        sync_mode({"mode": "fast"})


def test_auto_mode() -> None:
    assert resolve_mode("auto", None) == "full"
    assert resolve_mode("auto", datetime.now(UTC)) == "incremental"
    assert resolve_mode("full", datetime.now(UTC)) == "full"


RUN = {"run_id": "r", "status": "succeeded", "mode": "full", "conversations": 7, "messages": 70, "inserted": 5,
       "updated": 2, "conversations_changed": 6}


def test_compat_shapes() -> None:
    assert compat.sync_answer(RUN) == {"success": True, "syncMode": "full", "synced": 6, "inserted": 5, "updated": 2,
                                       "message": "Synced 6 new or changed conversations (read 7 conversations, 70 messages)"}
    failed = compat.sync_answer({**RUN, "status": "failed", "error": "token: dead"})
    assert failed["success"] is False and "token: dead" in failed["message"]
    answer = compat.sync_all_answer([compat.page_result("p1", "Shop", RUN)], {"p2": "busy"})
    assert answer["totalPages"] == 2 and answer["success"] is False
    assert answer["totals"] == {"totalSynced": 6, "successCount": 1}
    assert {"pageId", "pageName", "synced", "syncMode"} <= set(answer["results"][0])


def test_old_clients_name_metas_page_id_in_facebook_page_id() -> None:
    assert compat.requested_page({"pageId": 17, "facebookPageId": "1043304516"}) == "1043304516"
    assert compat.requested_page({"pageId": "1043304516"}) == "1043304516"
    assert compat.requested_page({"pageId": "1043304516", "facebookPageId": ""}) == "1043304516"
    assert compat.requested_page({}) is None
    assert compat.error_answer("unknown page") == {"success": False, "error": "unknown page"}
