"""The admin API over real HTTP and PostgreSQL: auth, pages, validation (no Graph calls here)."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from kernel.settings import Settings
from reconciler.tokens import TokenCipher
from tests.reconciler.conftest import ServeAdmin

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

PAGE = {"page_id": "1001", "platform": "messenger", "name": "Shop", "access_token": "EAAB-secret-1"}


async def test_without_or_with_a_wrong_token_nothing_happens(settings: Settings, admin_server: ServeAdmin,
                                                             http: aiohttp.ClientSession) -> None:
    async with admin_server(settings) as url, aiohttp.ClientSession() as anonymous:
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "admin-token-for-tests"}]:
            for method, path in [("POST", "/admin/pages"), ("GET", "/admin/pages"), ("POST", "/admin/sync-all"),
                                 ("POST", "/api/conversations/sync"), ("DELETE", "/admin/pages/1001")]:
                async with anonymous.request(method, url + path, json=PAGE, headers=headers) as response:
                    assert response.status == 401, (method, path, headers)
        async with http.get(url + "/admin/pages") as response:
            assert (await response.json())["pages"] == []


async def test_pages_add_replace_list_remove(settings: Settings, admin_server: ServeAdmin,
                                             http: aiohttp.ClientSession, database_url: str) -> None:
    async with admin_server(settings) as url:
        async with http.post(url + "/admin/pages", json=PAGE) as response:
            assert response.status == 201
            body = await response.text()
            assert "EAAB" not in body and (await response.json())["created"] is True
        async with http.post(url + "/admin/pages", json={**PAGE, "name": "Shop 2", "access_token": "EAAB-2"}) as r:
            assert r.status == 201 and (await r.json())["created"] is False
        async with http.get(url + "/admin/pages") as response:
            text = await response.text()
            [page] = (await response.json())["pages"]
        assert "EAAB" not in text and "access_token" not in page
        assert (page["page_id"], page["name"], page["status"], page["last_synced_at"]) == ("1001", "Shop 2",
                                                                                          "active", None)
        conn = await asyncpg.connect(database_url)
        try:
            stored = await conn.fetchval("SELECT access_token FROM pages WHERE page_id = '1001'")
        finally:
            await conn.close()
        assert b"EAAB" not in stored
        assert TokenCipher(settings.graph.token_keys).decrypt(stored).reveal() == "EAAB-2"
        async with http.delete(url + "/admin/pages/1001") as response:
            assert response.status == 204
        async with http.delete(url + "/admin/pages/1001") as response:
            assert response.status == 404


BAD_REQUESTS = [
    ("POST", "/admin/pages", b"{not json", 400),
    ("POST", "/admin/pages", b'{"page_id": "1", "platform": "sms", "access_token": "x"}', 400),
    ("POST", "/admin/pages", b'{"page_id": "1", "platform": "messenger"}', 400),
    ("POST", "/admin/pages", b"[]", 400),
    ("POST", "/admin/pages/404404/sync", b'{"mode": "auto"}', 404),
    ("POST", "/admin/pages/1001/sync", b'{"mode": "sideways"}', 400),
    ("POST", "/admin/pages/1001/sync", b"{oops", 400),
    ("GET", "/admin/sync-runs/not-a-uuid", b"", 404),
    ("GET", "/admin/sync-runs/5f0b8e8a-8d43-4a43-9a43-0d1f3b7a9c11", b"", 404),
    ("POST", "/api/conversations/sync", b'{"pageId": "404404"}', 404),
    ("POST", "/api/conversations/sync", b"{}", 400),
    ("POST", "/api/conversations/sync", b'{"pageId": 17, "facebookPageId": "404404"}', 404),
]


async def test_validation_errors_are_clear_4xx(settings: Settings, admin_server: ServeAdmin,
                                               http: aiohttp.ClientSession) -> None:
    async with admin_server(settings) as url:
        async with http.post(url + "/admin/pages", json=PAGE) as response:
            assert response.status == 201
        for method, path, body, status in BAD_REQUESTS:
            async with http.request(method, url + path, data=body) as response:
                assert response.status == status, (method, path, body)
                answer = await response.json()
            assert answer.get("error")
            if path.startswith("/api/"):  # the replaced app's error shape
                assert answer["success"] is False and set(answer) == {"success", "error"}
        async with http.get(url + "/admin/sync-runs?page_id=1001") as response:
            assert (await response.json())["runs"] == []  # nothing was started by any of them


async def test_credentials_in_the_url_are_refused_and_guessing_is_rate_limited(
        settings: Settings, admin_server: ServeAdmin, http: aiohttp.ClientSession) -> None:
    import dataclasses

    from tests.reconciler.conftest import ADMIN_TOKEN

    limited = dataclasses.replace(settings, admin=dataclasses.replace(settings.admin, auth_failures_per_minute=3))
    async with admin_server(limited) as url, aiohttp.ClientSession() as anonymous:
        for query in (f"?access_token={ADMIN_TOKEN}", "?token=x", f"?page={ADMIN_TOKEN}"):
            async with http.get(url + "/admin/pages" + query) as response:  # even with the right header
                assert response.status == 400 and ADMIN_TOKEN not in await response.text()
        for _ in range(3):
            async with anonymous.get(url + "/admin/pages", headers={"Authorization": "Bearer guess"}) as response:
                assert response.status == 401
        async with anonymous.get(url + "/admin/pages", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) > 0  # held off, even the right token


async def test_every_admin_action_is_audited_without_the_token(
        settings: Settings, admin_server: ServeAdmin, http: aiohttp.ClientSession) -> None:
    from structlog.testing import capture_logs

    from kernel.bearer import fingerprint

    async with admin_server(settings) as url:
        with capture_logs() as logs:
            async with http.post(url + "/admin/pages", json=PAGE) as response:
                assert response.status == 201
            async with http.get(url + "/admin/pages") as response:
                assert response.status == 200
            async with http.delete(url + "/admin/pages/1001") as response:
                assert response.status == 204
    audit = [e for e in logs if e["event"] == "admin_action"]
    assert [(e["action"], e["page_id"], e["status"]) for e in audit] == [
        ("POST /admin/pages", "1001", 201), ("DELETE /admin/pages/1001", "1001", 204)]  # reads are not actions
    assert settings.admin.admin_token is not None
    assert all(e["token"] == fingerprint(settings.admin.admin_token) and e["client"] == "127.0.0.1" for e in audit)
    assert "EAAB-secret-1" not in repr(logs)
