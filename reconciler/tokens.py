"""Page access tokens at rest: Fernet ciphertext in `pages.access_token`, plaintext only in memory.

`CONVSYNC_TOKEN_KEY` holds one or more Fernet keys (comma-separated). The first encrypts; all
decrypt, so a key is rotated by putting the new one first, then `rewrap` re-encrypting stored
tokens under it, then dropping the old key. A token that no configured key opens is
`TokenKeyMismatch`: that says more about this process's keys than about the page (one process
started with a wrong key must not disable the pages of every other), so the run fails and says so,
and the page stays as it is. The errors never include the ciphertext or the token.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kernel import scrub
from kernel.settings import Secret, SettingsError


class TokenUnreadable(Exception):
    """The page has no stored token: it needs one."""


class TokenKeyMismatch(Exception):
    """No key of this process opens the page's stored token: CONVSYNC_TOKEN_KEY lacks the key it was
    stored with (a wrong key here, or the key dropped before `rewrap`). Not the page's fault."""


_MISMATCH = ("the stored page token cannot be decrypted with this process's CONVSYNC_TOKEN_KEY: give it the key "
             "the token was stored with, or add the page's token again")


class TokenKeyError(SettingsError, ValueError):
    """CONVSYNC_TOKEN_KEY is missing or not a Fernet key (a settings error: one line, exit 2)."""


class TokenCipher:
    def __init__(self, keys: Sequence[Secret]) -> None:
        if not keys:
            raise TokenKeyError("CONVSYNC_TOKEN_KEY is missing: page tokens cannot be stored")
        try:
            self._fernet = MultiFernet([Fernet(k.reveal().encode()) for k in keys])
        except ValueError:
            raise TokenKeyError("CONVSYNC_TOKEN_KEY is malformed: expected Fernet keys") from None

    def __repr__(self) -> str:
        return "TokenCipher(***)"

    def encrypt(self, token: str) -> bytes:
        scrub.register_secrets([token])  # a token this process was handed never reaches its logs
        return self._fernet.encrypt(token.encode())

    def decrypt(self, stored: bytes) -> Secret:
        try:
            plain = self._fernet.decrypt(stored).decode()
        except InvalidToken:
            raise TokenKeyMismatch(_MISMATCH) from None
        scrub.register_secrets([plain])  # from now on no log line of this process can carry it
        return Secret(plain)

    def rewrap(self, stored: bytes) -> bytes:
        """The same token encrypted under the first (newest) key."""
        try:
            return self._fernet.rotate(stored)
        except InvalidToken:
            raise TokenKeyMismatch(_MISMATCH) from None


def new_key() -> str:
    """A fresh key for CONVSYNC_TOKEN_KEY."""
    return Fernet.generate_key().decode()
