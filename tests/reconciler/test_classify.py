"""The classifier: every Meta error family maps to what the caller does next."""

from __future__ import annotations

import pytest

from reconciler.classify import DEFAULT_THROTTLE_WAIT_S, classify


def err(code: int, message: str = "boom", **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "type": "OAuthException", **extra}}


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80006])
def test_throttle_codes_wait_what_meta_said(code: int) -> None:
    verdict = classify(400, err(code), regain_s=120.0)
    assert (verdict.kind, verdict.code, verdict.wait_s) == ("throttled", code, 120.0)


def test_throttle_without_usage_header_waits_the_default() -> None:
    assert classify(400, err(613)).wait_s == DEFAULT_THROTTLE_WAIT_S
    assert classify(429, None).kind == "throttled"


@pytest.mark.parametrize(("status", "body"), [(500, None), (503, {}), (400, err(2)), (400, err(1)),
                                              (400, err(100, is_transient=True)), (500, err(99))])
def test_transient(status: int, body: object) -> None:
    assert classify(status, body).kind == "transient"


def test_code_1_asking_for_less_data_shrinks_the_limit() -> None:
    verdict = classify(500, err(1, "Please reduce the amount of data you're asking for, then retry"))
    assert verdict.kind == "too_much_data"


@pytest.mark.parametrize("code", [190, 102])
def test_dead_token(code: int) -> None:
    assert classify(400, err(code, "Error validating access token")).kind == "token_dead"


@pytest.mark.parametrize("code", [10, 100, 200, 299, 12345])
def test_permanent(code: int) -> None:
    verdict = classify(400, err(code))
    assert verdict.kind == "permanent" and not verdict.retryable


def test_ok_and_error_in_200() -> None:
    assert classify(200, {"data": []}).kind == "ok"
    assert classify(200, err(613)).kind == "throttled"
    assert classify(404, "nope").kind == "permanent"


def test_message_is_bounded() -> None:
    assert len(classify(400, err(100, "x" * 5000)).message) == 300
