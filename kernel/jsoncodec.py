"""JSON on the hot paths (webhook parsing, record encode/decode): orjson, with the stdlib's meaning.

orjson reads and writes JSON several times faster than `json`, but differs at the edges: it turns
integers wider than 64 bits into floats (silently losing digits), and refuses lone surrogate
escapes, overflowing numbers and deep nesting, which the stdlib reads. So orjson is only a fast
path: a document that could hold a wide integer, and anything orjson refuses, is read by the
stdlib exactly as before. Either way the caller gets the value the stdlib would give, or its error.

    loads(data) -> value     like json.loads, but NaN and Infinity are refused; raises ValueError
                             (JSONDecodeError, UnicodeDecodeError) or RecursionError
    loads_unicode(data)      the same, and raises LoneSurrogate when a string of the value holds an
                             unpaired surrogate (`"\\ud800"`), which has no UTF-8 form
    dumps(value) -> bytes    compact UTF-8 (like separators=(",", ":"), ensure_ascii=False);
                             raises UnicodeEncodeError for a string holding a lone surrogate
    dumps_text(value) -> str the same as text with sorted keys (like sort_keys=True); a lone
                             surrogate stays in it, as json.dumps leaves it

Both dumps write NaN and the infinities as `null`, as orjson does: JSON has no spelling for them
(the stdlib writes `NaN`/`Infinity`, which PostgreSQL's jsonb refuses). `loads` never gives NaN; an
overflowing number (`1e400`) reads as infinity, as in the stdlib, and is written back as `null`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits in a row might be an integer beyond 64 bits. Found by mapping every digit to "0" and
# every other byte to " " (a regex is several times slower on bodies full of ids).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_WIDE_RUN = b"0" * 19
# A surrogate escape in the raw bytes (a literal prefix, so the regex engine scans for it quickly).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")


class LoneSurrogate(ValueError):
    """A string of the value holds an unpaired surrogate escape: it cannot be written as UTF-8."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)  # built once: json.loads(**kw) builds one per call
_REFUSED = object()


def loads(data: bytes) -> Any:
    value = _fast_loads(data)
    return _DECODER.decode(data.decode("utf-8")) if value is _REFUSED else value


def loads_unicode(data: bytes) -> Any:
    value = _fast_loads(data)  # orjson refuses lone surrogates itself
    if value is _REFUSED:
        value = _DECODER.decode(data.decode("utf-8"))
        if _maybe_lone_surrogate(data) and not _encodable(value):
            raise LoneSurrogate("a string holds an unpaired surrogate")
    return value


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, a lone surrogate, a type orjson does not take
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_text(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fast_loads(data: bytes) -> Any:
    if _WIDE_RUN in data.translate(_DIGITS_ONLY):
        return _REFUSED
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _REFUSED


def _maybe_lone_surrogate(body: bytes) -> bool:
    """A cheap pre-check on the raw bytes, so that bodies with paired escapes (emoji, as Meta sends
    them) skip the full check: True for an unpaired surrogate escape, or an escaped backslash
    before `ud..` (which could fake a pair)."""
    if b"\\ud" not in body and b"\\uD" not in body:
        return False
    low_expected_at = -1
    for match in _SURROGATE_ESCAPE.finditer(body):
        if _escaped_backslash_before(body, match.start()):
            return True
        if match.group(1) in b"89abAB":
            if low_expected_at != -1:
                return True
            low_expected_at = match.end()
        elif match.start() != low_expected_at:
            return True
        else:
            low_expected_at = -1
    return low_expected_at != -1


def _escaped_backslash_before(body: bytes, position: int) -> bool:
    run = 0
    while position - run - 1 >= 0 and body[position - run - 1] == 0x5C:  # backslash
        run += 1
    return run % 2 == 1


def _encodable(document: Any) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True
