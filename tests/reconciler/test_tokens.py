"""Page tokens at rest: encrypted, rotatable, never printed."""

from __future__ import annotations

import pytest

from kernel.settings import Secret
from reconciler.tokens import TokenCipher, TokenKeyError, TokenKeyMismatch, new_key


def test_round_trip_and_rotation() -> None:
    old, new = Secret(new_key()), Secret(new_key())
    stored = TokenCipher([old]).encrypt("EAAB-token")
    assert b"EAAB" not in stored
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored).reveal() == "EAAB-token"
    rewrapped = rotated.rewrap(stored)
    assert TokenCipher([new]).decrypt(rewrapped).reveal() == "EAAB-token"
    with pytest.raises(TokenKeyMismatch) as caught:
        TokenCipher([new]).decrypt(stored)
    assert "EAAB" not in str(caught.value)


def test_bad_keys_and_repr() -> None:
    with pytest.raises(TokenKeyError):
        TokenCipher([])
    with pytest.raises(TokenKeyError):
        TokenCipher([Secret("not-a-key")])
    cipher = TokenCipher([Secret(new_key())])
    assert "***" in repr(cipher) and "EAAB" not in repr(cipher.decrypt(cipher.encrypt("EAAB")))
