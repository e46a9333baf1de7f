"""Validation of admin request bodies (pure): JSON in, a typed request or a `BadRequest` out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, cast

from kernel.records import PLATFORMS, Platform
from reconciler.run import MODES, RequestedMode

_PAGE_ID = re.compile(r"[0-9A-Za-z_.\-]{1,64}")


class BadRequest(ValueError):
    """The request is malformed; the message says which field and why (never a token)."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_id: str
    platform: Platform
    name: str
    access_token: str = field(repr=False)


def json_object(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if not raw.strip() and empty_ok:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def page_id(value: Any, name: str = "page_id") -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not _PAGE_ID.fullmatch(str(value)):
        raise BadRequest(f"{name} must be a page id (letters, digits, '.', '_' or '-')")
    return str(value)


def page_request(data: dict[str, Any]) -> PageRequest:
    platform = data.get("platform", "messenger")
    if platform not in PLATFORMS:
        raise BadRequest("platform must be 'messenger' or 'instagram'")
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 500:
        raise BadRequest("name must be a string of at most 500 characters")
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise BadRequest("access_token must be a non-empty string")
    return PageRequest(page_id(data.get("page_id")), cast(Platform, platform), name, token.strip())


def sync_mode(data: dict[str, Any]) -> RequestedMode:
    mode = data.get("mode", "auto")
    if mode not in MODES:
        raise BadRequest("mode must be 'auto', 'full' or 'incremental'")
    return cast(RequestedMode, mode)
