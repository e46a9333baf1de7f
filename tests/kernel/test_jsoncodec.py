"""The fast JSON codec means exactly what the stdlib means: same values, same refusals, same bytes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import jsoncodec


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def stdlib_loads(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"), parse_constant=_no_constants)


def outcome(load: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "value", load(data)
    except (ValueError, RecursionError):
        return "error", None


def same(a: Any, b: Any) -> bool:
    """Equal, with types (1 is not 1.0, True is not 1) and NaN-free floats compared exactly."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@pytest.mark.parametrize("text", [
    b'{"a": 123456789012345678901234567890}',  # wider than 64 bits: orjson would give a float
    b'{"a": 18446744073709551616}',
    b'{"a": -9223372036854775809}',
    b'{"a": 9223372036854775807, "b": 18446744073709551615}',
    b'{"t": "\\ud83d\\ude00"}',  # a paired escape (emoji as Meta sends it)
    b'{"a": 1e400}',  # overflows: the stdlib reads inf
    b'{"a": 1, "a": 2}',
    b'{"a": -0.0, "b": -0, "c": 0.1, "d": 5e-324}',
    b' [1, 2.5, "x", null, true, false] ',
    b'{"deep": ' + b"[" * 300 + b"]" * 300 + b"}",
])
def test_reads_what_the_stdlib_reads(text: bytes) -> None:
    fast, slow = outcome(jsoncodec.loads, text), outcome(stdlib_loads, text)
    assert fast[0] == slow[0] == "value"
    assert same(fast[1], slow[1])


@pytest.mark.parametrize("text", [
    b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1', b"\xef\xbb\xbf{}", b'{"a": "\xff"}', b"",
    b"[" * 100_000 + b"]" * 100_000,
])
def test_refuses_what_the_stdlib_refuses(text: bytes) -> None:
    assert outcome(jsoncodec.loads, text)[0] == "error"


def test_lone_surrogates_are_read_by_loads_and_refused_by_loads_unicode() -> None:
    lone = b'{"t": "\\ud800"}'
    assert jsoncodec.loads(lone) == {"t": "\ud800"}
    with pytest.raises(jsoncodec.LoneSurrogate):
        jsoncodec.loads_unicode(lone)
    faked = b'{"t": "\\\\ud800\\udc00"}'  # an escaped backslash, then a lone low surrogate
    with pytest.raises(jsoncodec.LoneSurrogate):
        jsoncodec.loads_unicode(faked)
    assert jsoncodec.loads_unicode(b'{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES, ensure_ascii=st.booleans())
def test_any_document_reads_as_the_stdlib_reads_it(value: Any, ensure_ascii: bool) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    fast, slow = outcome(jsoncodec.loads, text), outcome(stdlib_loads, text)
    assert fast[0] == slow[0]
    assert same(fast[1], slow[1])


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=80) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_read_as_the_stdlib_reads_them(data: bytes) -> None:
    fast, slow = outcome(jsoncodec.loads, data), outcome(stdlib_loads, data)
    assert fast[0] == slow[0]
    assert same(fast[1], slow[1])


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES)
def test_dumps_reads_back_as_the_value_the_stdlib_would_write(value: Any) -> None:
    try:
        expected: bytes | None = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        expected = None
    if expected is None:
        with pytest.raises(UnicodeEncodeError):
            jsoncodec.dumps(value)
        return
    written = jsoncodec.dumps(value)
    assert same(jsoncodec.loads(written), json.loads(expected))


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES)
def test_dumps_text_is_the_value_the_stdlib_writes_with_sorted_keys(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    written = jsoncodec.dumps_text(value)
    assert same(json.loads(written), json.loads(expected))
    # the keys in the same order at every depth
    assert json.loads(written, object_pairs_hook=list) == json.loads(expected, object_pairs_hook=list)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": {"d": [1, 2.5, None, True], "c": "\u00e4\U0001f600\n\"\\"}},
    {"wide": 123456789012345678901234567890},  # orjson refuses it: the stdlib writes it
    {"lone": "\ud800"},  # kept as json.dumps keeps it (PostgreSQL refuses it later, as before)
])
def test_dumps_text_matches_the_stdlib_text(value: Any) -> None:
    assert jsoncodec.dumps_text(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_dumps_write_the_infinities_as_null_not_as_text_jsonb_refuses() -> None:
    overflow = jsoncodec.loads(b'{"a": 1e400, "b": -1e400}')  # read as the stdlib reads it: infinities
    assert overflow == {"a": math.inf, "b": -math.inf}
    assert jsoncodec.dumps_text(overflow) == '{"a":null,"b":null}'
    assert jsoncodec.dumps(overflow) == b'{"a":null,"b":null}'
