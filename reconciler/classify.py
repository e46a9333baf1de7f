"""What a Graph API answer means for the caller: a pure decision from the HTTP status and Meta's body.

The tree, named by what happens next (DESIGN §2):

    Verdict.kind
    ├── ok            use the body
    ├── throttled     codes 4, 17, 32, 613, 80001, 80006, HTTP 429: wait (`wait_s`, from the usage
    │                 header's estimated_time_to_regain_access when Meta gives one), then retry
    ├── transient     codes 1, 2, HTTP 5xx, `is_transient: true`: retry with backoff and jitter
    ├── too_much_data code 1 "reduce the amount of data": retry the same request with a smaller limit
    ├── token_dead    code 190 (and 102, the old session code): mark the page needs_reauth, stop calling
    └── permanent     codes 10, 100, 200-299 and anything else: fail the run, do not retry

The error text kept in a verdict is Meta's message only; Meta never echoes the token back, and our
URLs (which carry it) never reach a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kernel.jsonvalues import integer_or_none

VerdictKind = Literal["ok", "throttled", "transient", "too_much_data", "token_dead", "permanent"]

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80006})
TRANSIENT_CODES = frozenset({1, 2})
TOKEN_DEAD_CODES = frozenset({190, 102})
DEFAULT_THROTTLE_WAIT_S = 60.0
_TOO_MUCH_DATA_HINT = "reduce the amount of data"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    code: int | None = None
    message: str = ""
    wait_s: float | None = None  # throttled: how long Meta says to stay away

    @property
    def retryable(self) -> bool:
        return self.kind in {"throttled", "transient", "too_much_data"}


def classify(status: int, body: Any, regain_s: float | None = None) -> Verdict:
    """Map one response to a verdict. `regain_s` is the usage header's wait, when it carried one."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if status < 400 and not isinstance(error, Mapping):
        return Verdict("ok")
    if not isinstance(error, Mapping):
        return _by_status(status, regain_s)
    return _by_error(status, error, regain_s)


def _by_status(status: int, regain_s: float | None) -> Verdict:
    message = f"HTTP {status}"
    if status == 429:
        return Verdict("throttled", None, message, regain_s or DEFAULT_THROTTLE_WAIT_S)
    if status >= 500 or status in {408, 502, 503, 504}:
        return Verdict("transient", None, message)
    return Verdict("permanent", None, message)


def _by_error(status: int, error: Mapping[str, Any], regain_s: float | None) -> Verdict:
    code = _int_or_none(error.get("code"))
    message = str(error.get("message") or f"HTTP {status}")[:300]
    if code in TOKEN_DEAD_CODES:
        return Verdict("token_dead", code, message)
    if code in THROTTLE_CODES or status == 429:
        return Verdict("throttled", code, message, regain_s or DEFAULT_THROTTLE_WAIT_S)
    if code == 1 and _TOO_MUCH_DATA_HINT in message.lower():
        return Verdict("too_much_data", code, message)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
        return Verdict("transient", code, message)
    return Verdict("permanent", code, message)


def _int_or_none(value: Any) -> int | None:
    return integer_or_none(value, digits=True)
