"""Validation of admin request bodies (pure): JSON in, a typed request or a `BadRequest` out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from kernel.records import PAGE_ID, PLATFORMS, Platform
from reconciler.run import MODES, RequestedMode



class BadRequest(ValueError):
    """The request is malformed; the message says which field and why (never a token)."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_id: str
    platform: Platform
    name: str
    access_token: str = field(repr=False)
    graph_page_id: str = ""  # the linked Facebook Page of an Instagram account; the page itself otherwise


def graph_page_of(platform: Platform, page: str, graph_page_id: Any) -> str:
    """The Graph node a page's inbox is listed at (DESIGN §2). An Instagram account reached through
    Facebook Login is listed at its linked Page, which must be named; a Messenger page is its own node."""
    if graph_page_id is None:
        if platform == "instagram":
            raise BadRequest("graph_page_id is required for an Instagram account: the id of the Facebook Page "
                             "it is linked to (its conversations are listed there)")
        return page
    linked = page_id(graph_page_id, "graph_page_id")
    if platform == "messenger" and linked != page:
        raise BadRequest("graph_page_id of a Messenger page is the page itself; leave it out")
    return linked


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
    if not isinstance(value, str | int) or isinstance(value, bool) or not PAGE_ID.fullmatch(str(value)):
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
    page = page_id(data.get("page_id"))
    linked = graph_page_of(cast(Platform, platform), page, data.get("graph_page_id"))
    return PageRequest(page, cast(Platform, platform), name, token.strip(), linked)


def sync_mode(data: dict[str, Any]) -> RequestedMode:
    mode = data.get("mode", "auto")
    if mode not in MODES:
        raise BadRequest("mode must be 'auto', 'full' or 'incremental'")
    return cast(RequestedMode, mode)
