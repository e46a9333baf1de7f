"""What Meta sends, for tests and benchmarks: bodies serialised the way Meta does, signed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.signature import sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SECRET = b"app-secret-for-tests"
OLD_SECRET = b"app-secret-being-rotated-out"


def meta_bytes(document: Any) -> bytes:
    """ASCII with \\uXXXX escapes and no spaces, like Meta's bodies."""
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signed_headers(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}


def fixture_cases() -> list[tuple[str, dict[str, Any]]]:
    return [(path.stem, json.loads(path.read_text())) for path in sorted(FIXTURES.glob("*.json"))]


def expected_records(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"standby": False, **record} for record in case["records"]]
