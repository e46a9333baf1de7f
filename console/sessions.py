"""Console sessions: a login with the admin token becomes a random session id in an HttpOnly cookie.

    issued = issue()                                   # at login: the cookie's value, what the row keeps
    await create(conn, issued, token, client, ttl_s)
    session = await find(conn, cookie_value, token)   # every request; None: show the login form
    csrf_ok(session, form.get("csrf"))                 # every form POST
    await end(conn, cookie_value)                      # logout

The database keeps the SHA-256 of the id, never the id, so its rows let nobody in; a session is
bound to the fingerprint of the admin token it logged in with, so rotating the token ends them all.
An id is 32 random bytes: a forged or guessed cookie finds no row, an expired one finds none either.
The CSRF token is random per session and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from kernel.bearer import fingerprint
from kernel.settings import Secret
from kernel.sqlfiles import statement
from reconciler.db import Conn

COOKIE = "convsync_console"
COOKIE_PATH = "/admin/console"
_ID_BYTES = 32


@dataclass(frozen=True, slots=True)
class Issued:
    """A new session: `cookie` goes to the browser only; the database keeps `digest`."""

    cookie: str = field(repr=False)
    csrf_token: str = field(repr=False)

    @property
    def digest(self) -> bytes:
        return digest(self.cookie)


@dataclass(frozen=True, slots=True)
class Session:
    csrf_token: str = field(repr=False)
    expires_at: datetime


def issue() -> Issued:
    return Issued(secrets.token_urlsafe(_ID_BYTES), secrets.token_urlsafe(_ID_BYTES))


def digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def looks_like_id(cookie: str | None) -> bool:
    """A cookie worth a database lookup: the shape `issue` gives (anything else is forged)."""
    return cookie is not None and 20 <= len(cookie) <= 64 and cookie.isascii() and \
        all(c.isalnum() or c in "-_" for c in cookie)


def csrf_ok(session: Session, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf_token.encode())


async def create(conn: Conn, issued: Issued, admin_token: Secret, client: str, ttl_s: int) -> None:
    await conn.execute(statement("console", "create_session"), issued.digest, issued.csrf_token,
                       fingerprint(admin_token), client, float(ttl_s))


async def find(conn: Conn, cookie: str | None, admin_token: Secret) -> Session | None:
    if cookie is None or not looks_like_id(cookie):
        return None
    row = await conn.fetchrow(statement("console", "find_session"), digest(cookie), fingerprint(admin_token))
    return None if row is None else Session(row["csrf_token"], row["expires_at"])


async def end(conn: Conn, cookie: str | None) -> None:
    if cookie is not None and looks_like_id(cookie):
        await conn.execute(statement("console", "end_session"), digest(cookie))
