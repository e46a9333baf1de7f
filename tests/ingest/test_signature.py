"""The signature table of issue 4, on the pure verifier (the HTTP edge is tested in test_edge_http)."""

from __future__ import annotations

import json

import pytest

from ingest.signature import Keys, check_signature, sign
from tests.ingest.meta import OLD_SECRET, SECRET, meta_bytes

BODY = meta_bytes({"object": "page", "entry": [{"id": "1", "messaging": []}]})
GOOD = sign(BODY, SECRET)
FLIPPED = BODY[:10] + bytes([BODY[10] ^ 0x01]) + BODY[11:]


@pytest.mark.parametrize(
    ("body", "header", "verdict"),
    [
        (BODY, GOOD, "ok"),
        (BODY, sign(BODY, b"wrong secret"), "mismatch"),
        (BODY, sign(BODY, OLD_SECRET), "ok"),  # second secret during rotation
        (BODY, None, "missing"),
        (BODY, "", "missing"),
        (BODY, "sha1=" + "0" * 40, "malformed"),
        (BODY, GOOD[:-2], "malformed"),  # truncated hex
        (BODY, GOOD[:-1] + "z", "malformed"),
        (BODY, "SHA256=" + GOOD[7:], "malformed"),
        (BODY, GOOD[:40] + " " + GOOD[41:], "malformed"),  # 64 characters, one a space
        (BODY, "sha256=" + "\u00e4" * 64, "malformed"),  # 64 letters, not hex
        (FLIPPED, GOOD, "mismatch"),  # one flipped byte
        (json.dumps(json.loads(BODY), indent=1).encode(), GOOD, "mismatch"),  # re-serialised after signing
        (BODY, GOOD.upper().replace("SHA256=", "sha256="), "ok"),  # hex case does not matter
    ],
)
def test_signature_table(body: bytes, header: str | None, verdict: str) -> None:
    assert check_signature(body, header, [SECRET, OLD_SECRET]) == verdict
    assert check_signature(body, header, KEYS) == verdict  # keyed once, used for every body (the edge's way)


KEYS = Keys([SECRET, OLD_SECRET])


def test_keys_are_reused_without_carrying_state_from_body_to_body() -> None:
    keys = Keys([SECRET])
    for body in (BODY, FLIPPED, BODY, b"", BODY * 100):
        assert check_signature(body, sign(body, SECRET), keys) == "ok"
        assert check_signature(body, sign(body, OLD_SECRET), keys) == "mismatch"


def test_keys_never_show_the_secrets() -> None:
    assert SECRET.decode() not in repr(Keys([SECRET])) and SECRET.decode() not in str(Keys([SECRET]))


def test_meta_unicode_escaping_is_verified_over_the_raw_bytes() -> None:
    body = meta_bytes({"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"text": "\u00e4\u00f6 \U0001f600"}}]}]})
    assert b"\\u00e4\\u00f6 \\ud83d\\ude00" in body
    header = sign(body, SECRET)
    assert check_signature(body, header, [SECRET]) == "ok"
    unescaped = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()
    assert check_signature(unescaped, header, [SECRET]) == "mismatch"


def test_no_secret_configured_accepts_nothing() -> None:
    assert check_signature(BODY, GOOD, []) == "mismatch"
