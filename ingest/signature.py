"""Webhook signature verification: HMAC-SHA256 of the exact body bytes, several secrets at once.

Meta signs the raw request body (ASCII with `\\uXXXX` escapes) and sends
`X-Hub-Signature-256: sha256=<64 hex>`. We hash the bytes as received, never re-serialised JSON,
and compare in constant time against every configured secret, so a secret can be rotated by
accepting the old and the new one together for a while.

Pure: no I/O, no logging. The verdict names why a request is refused so the edge can count it
without ever printing the header or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Literal

Verdict = Literal["ok", "missing", "malformed", "mismatch"]

_PREFIX = "sha256="


class Keys:
    """The app secrets, each keyed once: an HMAC object per secret, copied for every body, so the
    secret's padded key blocks are not hashed again per body (about 1.7 us per 500-byte body
    instead of 3.2 us for the one-shot `hmac.digest`, measured alone). Build it once and keep it (the
    edge, a replay). It never shows the secrets."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        self._keyed = [hmac.new(secret, digestmod=hashlib.sha256) for secret in secrets]

    def digests(self, body: bytes) -> list[bytes]:
        """The body's HMAC-SHA256 under every secret, in order."""
        digests = []
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(body)
            digests.append(mac.digest())
        return digests

    def __repr__(self) -> str:
        return f"Keys({len(self._keyed)} secrets)"


Secrets = Keys | Sequence[bytes]
"""The app secrets: keyed once (`Keys`), or as they are (each body then keys every secret again)."""


def check_signature(body: bytes, header: str | None, secrets: Secrets) -> Verdict:
    """Whether `header` is a valid `sha256=` signature of `body` under any of `secrets`."""
    if header is None or header == "":
        return "missing"
    digest = _parse(header)
    if digest is None:
        return "malformed"
    expected = (secrets.digests(body) if isinstance(secrets, Keys)
                else [hmac.digest(secret, body, "sha256") for secret in secrets])
    matched = False
    for candidate in expected:  # every secret is tried: the time taken does not depend on which matched
        matched |= hmac.compare_digest(candidate, digest)
    return "ok" if matched else "mismatch"


def sign(body: bytes, secret: bytes) -> str:
    """The header value Meta would send for `body` (for tests, benchmarks and the emulator)."""
    return _PREFIX + hmac.digest(secret, body, "sha256").hex()


def _parse(header: str) -> bytes | None:
    if not header.startswith(_PREFIX):
        return None
    hex_digest = header[len(_PREFIX):].strip()
    if len(hex_digest) != 64 or not hex_digest.isalnum():  # fromhex would skip inner whitespace
        return None
    try:
        return bytes.fromhex(hex_digest)
    except ValueError:  # letters beyond f, or non-ASCII
        return None
