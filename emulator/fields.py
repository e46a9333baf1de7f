"""The Graph API `fields` parameter: nested selections and modifiers, parsed without I/O.

Grammar (Meta's field expansion): `list := item ("," item)*`,
`item := name ("." modifier "(" value ")")* ("{" list "}")?`, e.g.
`id,participants,messages.limit(20){id,created_time,from,to,message}`. Only `limit` is understood as a
modifier; any other is a syntax error the caller turns into Meta's code 100.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODIFIER = re.compile(r"\.([A-Za-z_]+)\(([^()]*)\)")


class FieldsError(ValueError):
    """The `fields` value cannot be parsed (Meta answers code 100)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    limit: int | None = None
    sub: tuple[Field, ...] | None = None  # None: no `{...}` given, the node's default fields apply


def parse_fields(text: str) -> tuple[Field, ...]:
    fields, end = _parse_list(text.replace(" ", ""), 0)
    if end != len(text.replace(" ", "")):
        raise FieldsError(f"Syntax error: unexpected {text[end : end + 10]!r} in fields")
    return fields


def _parse_list(text: str, pos: int) -> tuple[tuple[Field, ...], int]:
    items: list[Field] = []
    while True:
        item, pos = _parse_item(text, pos)
        items.append(item)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return tuple(items), pos


def _parse_item(text: str, pos: int) -> tuple[Field, int]:
    match = _NAME.match(text, pos)
    if match is None:
        raise FieldsError(f"Syntax error: expected a field name at position {pos}")
    name, pos, limit = match.group(), match.end(), None
    while (modifier := _MODIFIER.match(text, pos)) is not None:
        limit, pos = _modifier(modifier.group(1), modifier.group(2)), modifier.end()
    sub = None
    if pos < len(text) and text[pos] == "{":
        sub, pos = _parse_list(text, pos + 1)
        if pos >= len(text) or text[pos] != "}":
            raise FieldsError("Syntax error: missing '}' in fields")
        pos += 1
    return Field(name, limit, sub), pos


def _modifier(name: str, value: str) -> int:
    if name != "limit":
        raise FieldsError(f"Syntax error: unknown modifier .{name}()")
    if not value.isdigit():
        raise FieldsError(f"Syntax error: .limit() needs a number, got {value!r}")
    return int(value)
