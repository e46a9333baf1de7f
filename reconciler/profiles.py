"""Contacts from Meta's User Profile APIs: a bounded pass after each successful run of a page.

Graph readings name most people for free (participants: Messenger `name`, Instagram `username`; the
consumers write them to `contacts`). Threads no sync read (a webhook-only thread in the message
requests folder, which incremental runs do not list) have nobody named, so after a successful run
the reconciler reads up to CONVSYNC_PROFILE_LIMIT profiles of the page's most recent such people:
`GET /{PSID}?fields=first_name,last_name,profile_pic` (Messenger) or
`GET /{IGSID}?fields=name,username,profile_pic` (Instagram), with the page's token, through the
page's governor. A profile read, or refused because the person blocked the page (code 551 on
Messenger, 100 on Instagram), is not asked again until CONVSYNC_PROFILE_REFRESH_DAYS passed (picture
URLs expire). The pass is never the run's failure: a dead token, a throttle that outlasts the retries
or the database away end the pass, logged; the next run tries again.

The parsing is pure (`fields_for`, `parse`, `refusal_code`); `read_profiles` is the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from kernel.records import Platform
from kernel.settings import ReconcilerSettings, Secret
from kernel.sqlfiles import statement
from reconciler.graph import CallStats, GraphClient, GraphError, GraphPermanent

FIELDS: dict[str, str] = {
    "messenger": "first_name,last_name,profile_pic",
    "instagram": "name,username,profile_pic",
}
REFUSAL_CODES = frozenset({100, 551})  # the person blocked the page, or is not reachable by it


@dataclass(frozen=True, slots=True)
class Profile:
    name: str | None
    first_name: str | None
    last_name: str | None
    username: str | None
    profile_pic_url: str | None


@dataclass(frozen=True, slots=True)
class PassResult:
    read: int = 0
    refused: int = 0
    stopped: str | None = None  # why the pass ended early, in words without secrets
    graph_calls: int = 0  # every attempt, retries included


def fields_for(platform: Platform) -> str:
    return FIELDS[platform]


def parse(body: Mapping[str, Any]) -> Profile:
    """The columns of a profile answer; Messenger's `name` is its first and last name joined."""
    def text(key: str) -> str | None:
        value = body.get(key)
        return value.strip() or None if isinstance(value, str) else None

    first, last = text("first_name"), text("last_name")
    joined = " ".join(p for p in (first, last) if p) or None
    return Profile(text("name") or joined, first, last, text("username"), text("profile_pic"))


def refusal_code(exc: GraphError) -> int | None:
    """Meta's code when it refuses this one person's profile (not the page's problem), else None."""
    code = exc.verdict.code
    return code if isinstance(exc, GraphPermanent) and code in REFUSAL_CODES else None


async def read_profiles(pool: asyncpg.Pool, graph: GraphClient, *, page_id: str, graph_page_id: str,
                        platform: Platform, token: Secret, settings: ReconcilerSettings,
                        read_this_run: Sequence[str] = (), active_before: datetime | None = None) -> PassResult:
    """Read the profiles of the page's unnamed people, newest thread first, at most `profile_limit`.
    `read_this_run`: the people whose conversations the run just read (their participants are on
    their way to `contacts` through Kafka); `active_before`: people whose thread began later are
    left to the next run, which may read it."""
    if settings.profile_limit <= 0:
        return PassResult()
    refresh_s = settings.profile_refresh_days * 86_400.0
    async with pool.acquire() as conn:
        people = await conn.fetch(statement("reconciler", "profile_candidates"), page_id,
                                  settings.profile_limit, refresh_s, list(read_this_run), active_before)
    read = refused = 0
    stats = CallStats()
    for person in people:
        user_id: str = person["user_id"]
        try:
            answer = await graph.get(graph_page_id, token, user_id, {"fields": fields_for(platform)}, stats)
        except GraphError as exc:
            code = refusal_code(exc)
            if code is None:
                return PassResult(read, refused, f"{exc.__class__.__name__}: {exc}", stats.calls)
            async with pool.acquire() as conn:
                await conn.execute(statement("reconciler", "record_refusal"), page_id, user_id, platform, code)
            refused += 1
            continue
        p = parse(answer.body)
        async with pool.acquire() as conn:
            await conn.execute(statement("reconciler", "record_profile"), page_id, user_id, platform, p.name,
                               p.first_name, p.last_name, p.username, p.profile_pic_url)
        read += 1
    return PassResult(read, refused, None, stats.calls)
