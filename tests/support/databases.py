"""Per-test databases: copies of one migrated template, made with CREATE DATABASE ... TEMPLATE."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from convsync.migrate import migrate_url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_template(admin_url: str) -> str:
    name = f"convsync_tpl_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    await migrate_url(with_database(admin_url, name))
    return name


async def create_database(admin_url: str, template: str | None) -> str:
    name = f"convsync_t_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


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
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE {role}')
    finally:
        await conn.close()
    return name


async def drop_login(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await conn.close()
