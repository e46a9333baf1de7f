"""Per-test databases: copies of one migrated template, made with CREATE DATABASE ... TEMPLATE."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from convsync.migrate import migrate_url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _as_admin(admin_url: str, sql: str) -> None:
    """One statement on its own connection (CREATE/DROP DATABASE and ROLE cannot run in a transaction)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_template(admin_url: str) -> str:
    name = f"convsync_tpl_{uuid.uuid4().hex[:8]}"
    await _as_admin(admin_url, f'CREATE DATABASE "{name}"')
    await migrate_url(with_database(admin_url, name))
    return name


async def create_database(admin_url: str, template: str | None) -> str:
    name = f"convsync_t_{uuid.uuid4().hex[:10]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await _as_admin(admin_url, f'CREATE DATABASE "{name}"{clause}')
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    await _as_admin(admin_url, f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


ROLES = ("convsync_writer", "convsync_reconciler", "convsync_admin", "convsync_reader")


def as_user(url: str, user: str) -> str:
    """The same database URL, logging in as `user` (the test cluster trusts loopback logins)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


async def create_login(admin_url: str, role: str) -> str:
    """A login user of the cluster that is a member of `role` (one of ROLES) and nothing else, as a
    deployment would grant it; returns its name. Roles are cluster-wide: drop it with drop_login."""
    name = f"{role}_login_{uuid.uuid4().hex[:8]}"
    await _as_admin(admin_url, f'CREATE ROLE "{name}" LOGIN IN ROLE {role}')
    return name


async def drop_login(admin_url: str, name: str) -> None:
    await _as_admin(admin_url, f'DROP ROLE IF EXISTS "{name}"')
