"""The console in a real browser (headless Chromium, Playwright) against the real stack and the emulator:
log in, see every page, start a full sync and watch its run finish with the database's counts,
re-subscribe a page Meta unsubscribed, dry-run a DLQ replay, fit a phone's width, log out."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from kernel.settings import KafkaSettings
from tests.console.conftest import CONSOLE, Stack, console_stack
from tests.consumers.brokers import produce
from tests.reconciler.conftest import ADMIN_TOKEN
from tests.reconciler.support import until
from tests.support.browser import LAUNCH_ARGS, chromium

pytestmark = [pytest.mark.integration]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
WAIT_MS = 60_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium(), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def log_in(page: Page, stack: Stack) -> None:
    await page.goto(stack.url + CONSOLE)
    await expect(page.get_by_role("heading", name="Log in to the console")).to_be_visible()
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Pages")).to_be_visible()


def card(page: Page, page_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f'article[data-page="{page_id}"]')


async def test_an_operator_finds_and_fixes_what_is_wrong(browser: Browser, database_url: str, kafka: KafkaSettings,
                                                         data_dir: Path, conn: asyncpg.Connection,
                                                         tmp_path: Path) -> None:
    async with console_stack(database_url, kafka, data_dir) as stack:
        synced, silenced = stack.page_ids
        await produce(kafka, [(f"{synced}:someone".encode(), b"{this is not a record")])  # one dead letter
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await log_in(page, stack)
        for page_id in stack.page_ids:
            await expect(card(page, page_id)).to_contain_text(stack.emu.world.pages[page_id].name)

        # a full sync from its button, watched until it finished and the writer applied its counts
        await card(page, synced).get_by_role("button", name="Full sync").click()
        await expect(page).to_have_url(re.compile(rf"/runs\?page_id={synced}"))
        run = page.locator("tr[data-run]").first
        await expect(run).to_have_attribute("data-status", "succeeded", timeout=WAIT_MS)
        expected = await until(conn, "SELECT conversations FROM sync_runs WHERE page_id = $1 AND inserted > 0",
                               len(stack.emu.world.conversations_of(synced)), synced)
        row = await conn.fetchrow("SELECT run_id, conversations, messages, inserted FROM sync_runs WHERE page_id = $1",
                                  synced)
        assert row is not None and row["conversations"] == expected and row["messages"] > 0
        await expect(run).to_have_attribute("data-run", str(row["run_id"]))
        await expect(run.locator('[data-field="inserted"]')).to_have_text(str(row["inserted"]), timeout=WAIT_MS)
        await expect(run.locator('[data-field="messages"]')).to_have_text(str(row["messages"]))

        # a page Meta stopped delivering: re-subscribed from its card
        stack.emu.unsubscribe(silenced)
        await page.get_by_role("link", name="Pages").click()
        await card(page, silenced).get_by_role("button", name="Re-subscribe").click()
        await expect(page.get_by_role("status")).to_have_text("Subscription checked.")
        await expect(card(page, silenced).locator('[data-field="subscription"]')).to_contain_text("fixed")
        assert stack.emu.graph_state.subscriptions.fields(silenced)  # subscribed again

        # the pages view, as the README shows it
        await page.reload()
        await expect(card(page, synced).locator('[data-field="last-run"]')).to_contain_text("succeeded")
        await page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        if os.environ.get("CONVSYNC_UPDATE_SCREENSHOT"):
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

        # the dead letter, counted by a dry run of its replay
        await page.get_by_role("link", name="Dead letters").click()
        for _ in range(30):
            if await page.locator('[data-figure="dlq-depth"]').text_content() not in (None, "0"):
                break
            await page.wait_for_timeout(1000)
            await page.reload()
        await expect(page.locator("tr[data-kind]").first).to_be_visible()
        await page.get_by_role("button", name="Dry run").click()
        await expect(page.get_by_role("heading", name="Dry run of dead letters")).to_be_visible()
        await expect(page.locator('[data-field="status"]')).to_contain_text("succeeded", timeout=WAIT_MS)
        await expect(page.locator('[data-field="scanned"]')).to_have_text("1")
        await expect(page.locator('[data-field="produced"]')).to_have_text("0")
        replay = await conn.fetchrow("SELECT dry_run, scanned, produced FROM replays")
        assert replay is not None and tuple(replay) == (True, 1, 0)

        # a phone's width: nothing wider than the screen
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.get_by_role("link", name="Pages").click()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390

        # logged out, the console is closed again
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_role("heading", name="Log in to the console")).to_be_visible()
        await page.goto(stack.url + CONSOLE + "/runs")
        await expect(page.get_by_role("heading", name="Log in to the console")).to_be_visible()
        assert await conn.fetchval("SELECT count(*) FROM console_sessions") == 0
