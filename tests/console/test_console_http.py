"""The console over real HTTP, PostgreSQL and Kafka: who gets in, and that a refused form changes nothing."""

from __future__ import annotations

import dataclasses
import re
import secrets
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from console.sessions import COOKIE
from kernel.settings import KafkaSettings, Secret
from tests.console.conftest import CONSOLE, console_stack, log_in, session_cookie
from tests.reconciler.conftest import ADMIN_TOKEN, serve_app

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

VIEWS = ["", "/runs", "/dlq", "/system", "/pages/{page}", "/replays/5f0b8e8a-8d43-4a43-9a43-0d1f3b7a9c11"]
ACTIONS = [("/pages/{page}/pause", {}), ("/pages/{page}/sync", {"mode": "full"}),
           ("/pages/{page}/subscribe", {}), ("/replays", {"from": "dlq", "dry_run": "false"})]


def is_login_form(html: str) -> bool:
    return 'name="token"' in html and 'action="/admin/console/login"' in html


async def state(conn: asyncpg.Connection) -> tuple[object, ...]:
    """What an action could change: page statuses, runs, replays, subscription checks."""
    return (await conn.fetch("SELECT page_id, status, subscription_checked_at FROM pages ORDER BY page_id"),
            await conn.fetchval("SELECT count(*) FROM sync_runs"), await conn.fetchval("SELECT count(*) FROM replays"))


async def test_without_a_live_session_only_the_login_form_is_served_and_nothing_changes(
        database_url: str, kafka: KafkaSettings, data_dir: Path, conn: asyncpg.Connection) -> None:
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, aiohttp.ClientSession() as http:
        page = stack.page_ids[0]
        expired = await log_in(http, stack.url)
        await conn.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
        before = await state(conn)
        forged = f"{COOKIE}={secrets.token_urlsafe(32)}"
        for cookie in (None, forged, f"{COOKIE}=not a session", expired.cookie):
            headers = {"Cookie": cookie} if cookie else {}
            for view in VIEWS:
                async with http.get(stack.url + CONSOLE + view.format(page=page), headers=headers) as response:
                    html = await response.text()
                    assert response.status == 401 and is_login_form(html), (view, cookie)
                    assert page not in html and stack.emu.world.pages[page].name not in html
            for action, form in ACTIONS:
                async with http.post(stack.url + CONSOLE + action.format(page=page), headers=headers,
                                     data={**form, "csrf": expired.csrf}, allow_redirects=False) as response:
                    assert response.status == 401 and is_login_form(await response.text()), (action, cookie)
        assert await state(conn) == before


async def test_login_gives_a_strict_http_only_cookie_and_wrong_tokens_are_refused_then_held_off(
        database_url: str, kafka: KafkaSettings, data_dir: Path, conn: asyncpg.Connection) -> None:
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, aiohttp.ClientSession() as http:
        operator = await log_in(http, stack.url)
        async with http.post(stack.url + CONSOLE + "/login", data={"token": ADMIN_TOKEN},
                             allow_redirects=False) as response:
            attributes = response.headers["Set-Cookie"].lower()
        assert {"httponly", "samesite=strict", "path=/admin/console"} <= {a.strip() for a in attributes.split(";")}
        assert "secure" not in {a.strip() for a in attributes.split(";")}  # plain HTTP here
        assert "max-age=28800" in attributes
        status, html = await operator.get(CONSOLE)
        assert status == 200 and all(p in html for p in stack.page_ids)
        for view in VIEWS[:-1]:  # every link and form of every view stays inside the console
            status, html = await operator.get(CONSOLE + view.format(page=stack.page_ids[0]))
            targets = re.findall(r'(?:href|action|src)="(/[^"]*)"', html)
            assert status == 200 and targets and all(t.startswith(CONSOLE) for t in targets), (view, targets)
        assert ADMIN_TOKEN not in html and "EAA" not in html  # neither the admin token nor a page token
        stored = await conn.fetch("SELECT session_hash, csrf_token FROM console_sessions")
        assert len(stored) == 2 and all(operator.cookie.split("=", 1)[1].encode() not in bytes(r[0]) for r in stored)
        for attempt in range(stack.settings.admin.auth_failures_per_minute):
            async with http.post(stack.url + CONSOLE + "/login", data={"token": f"guess-{attempt}"},
                                 allow_redirects=False) as response:
                assert response.status == 401 and "Set-Cookie" not in response.headers
                assert "not the admin token" in await response.text()
        async with http.post(stack.url + CONSOLE + "/login", data={"token": ADMIN_TOKEN},
                             allow_redirects=False) as response:
            assert response.status == 429 and int(response.headers["Retry-After"]) > 0
            assert "Set-Cookie" not in response.headers


async def test_a_form_without_the_sessions_csrf_token_or_from_elsewhere_changes_nothing(
        database_url: str, kafka: KafkaSettings, data_dir: Path, conn: asyncpg.Connection) -> None:
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, aiohttp.ClientSession() as http:
        operator = await log_in(http, stack.url)
        page = stack.page_ids[0]
        before = await state(conn)
        for action, form in ACTIONS:
            path = CONSOLE + action.format(page=page)
            for csrf, headers in ((None, {}), ("forged", {}), ("session", {"Origin": "http://evil.example"})):
                status, html, _ = await operator.post(path, form, csrf=csrf, headers=headers)
                assert status == 403 and "Nothing was changed" in html, (action, csrf, headers)
        assert await state(conn) == before
        status, _, location = await operator.post(CONSOLE + f"/pages/{page}/pause", {},
                                                  headers={"Origin": stack.url})
        assert (status, location) == (303, f"{CONSOLE}?notice=pause")
        assert await conn.fetchval("SELECT status FROM pages WHERE page_id = $1", page) == "paused"
        status, html, _ = await operator.post(CONSOLE + f"/pages/{page}/sync", {"mode": "auto"})
        assert status == 409 and "paused" in html  # a paused page is not synced
        status, _, _ = await operator.post(CONSOLE + f"/pages/{page}/resume", {})
        assert status == 303 and await conn.fetchval("SELECT status FROM pages WHERE page_id = $1", page) == "active"
        status, html, _ = await operator.post(CONSOLE + "/pages/404404/pause", {})
        assert status == 404


async def test_logout_ends_the_session_on_the_server_and_a_new_admin_token_ends_them_all(
        database_url: str, kafka: KafkaSettings, data_dir: Path, conn: asyncpg.Connection) -> None:
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, aiohttp.ClientSession() as http:
        leaving, staying = await log_in(http, stack.url), await log_in(http, stack.url)
        status, _, location = await leaving.post(CONSOLE + "/logout", {})
        assert (status, location) == (303, CONSOLE)
        status, html = await leaving.get(CONSOLE)  # the old cookie, replayed: its session is gone
        assert status == 401 and is_login_form(html)
        assert await conn.fetchval("SELECT count(*) FROM console_sessions") == 1
        assert (await staying.get(CONSOLE))[0] == 200
    from convsync.serve import build_app

    rotated = dataclasses.replace(stack.settings, admin=dataclasses.replace(
        stack.settings.admin, admin_token=Secret("a-new-admin-token")))
    async with serve_app(build_app(rotated)) as url, aiohttp.ClientSession() as http:
        async with http.get(url + CONSOLE, headers={"Cookie": staying.cookie}) as response:
            assert response.status == 401 and is_login_form(await response.text())


async def test_the_cookie_is_secure_when_the_setting_says_the_console_is_behind_https(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack:
        secure = dataclasses.replace(stack.settings, admin=dataclasses.replace(stack.settings.admin,
                                                                               console_secure_cookie=True))
        from convsync.serve import build_app

        async with serve_app(build_app(secure)) as url, aiohttp.ClientSession() as http:
            async with http.post(url + CONSOLE + "/login", data={"token": ADMIN_TOKEN},
                                 allow_redirects=False) as response:
                cookie = response.headers["Set-Cookie"]
            assert "secure" in {a.strip().lower() for a in cookie.split(";")}
            assert session_cookie(cookie).startswith(COOKIE + "=")


async def test_behind_a_trusted_proxy_the_cookie_is_secure_when_the_proxy_says_https(
        database_url: str, kafka: KafkaSettings, data_dir: Path) -> None:
    """uvicorn's proxy headers are applied by the app (ingest.app.EdgeApp), not by uvicorn: loopback
    is trusted by default, so its X-Forwarded-Proto counts; without it the cookie stays plain."""
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, \
            aiohttp.ClientSession() as http:
        for forwarded, secure in (("https", True), (None, False)):
            headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
            async with http.post(stack.url + CONSOLE + "/login", data={"token": ADMIN_TOKEN}, headers=headers,
                                 allow_redirects=False) as response:
                cookie = response.headers["Set-Cookie"]
            assert ("secure" in {a.strip().lower() for a in cookie.split(";")}) is secure


async def test_thousands_of_pages_come_a_window_at_a_time_those_needing_attention_first(
        database_url: str, kafka: KafkaSettings, data_dir: Path, conn: asyncpg.Connection) -> None:
    """120 more pages (two needing re-authorisation): the first window holds 50 cards, the two first;
    following `next` shows every page exactly once; a search finds one page by part of its name."""
    async with console_stack(database_url, kafka, data_dir, consume=False) as stack, aiohttp.ClientSession() as http:
        await conn.execute("""
            INSERT INTO pages (page_id, graph_page_id, platform, name)
            SELECT 'bulk' || lpad(n::text, 3, '0'), 'bulk' || n, 'messenger', 'Bulk page ' || lpad(n::text, 3, '0')
            FROM generate_series(1, 120) AS n""")
        await conn.execute("UPDATE pages SET status = 'needs_reauth' WHERE page_id IN ('bulk077', 'bulk118')")
        every = {r["page_id"] for r in await conn.fetch("SELECT page_id FROM pages")}
        operator = await log_in(http, stack.url)

        seen: list[str] = []
        path = CONSOLE
        while True:
            status, html = await operator.get(path)
            assert status == 200
            cards = re.findall(r'data-page="([^"]+)"', html)
            assert 0 < len(cards) <= 50
            if not seen:
                assert cards[:2] == ["bulk077", "bulk118"] and len(cards) == 50
                assert f"{len(every)} pages, 2 needing attention" in html
            seen += cards
            following = re.search(r'rel="next" href="([^"]+)"', html)
            if following is None:
                break
            path = following.group(1).replace("&amp;", "&")
        assert sorted(seen) == sorted(every) and len(seen) == len(every)

        status, html = await operator.get(CONSOLE + "?q=page%20042")
        assert status == 200 and re.findall(r'data-page="([^"]+)"', html) == ["bulk042"]
        status, html = await operator.get(CONSOLE + "?q=no-such-page&offset=-3")
        assert status == 200 and "No page here" in html and not re.findall(r'data-page="', html)
