"""The admin API's one credential check: `Authorization: Bearer <CONVSYNC_ADMIN_TOKEN>`, in constant time.

With no admin token configured nothing is authorized. Every admin route (the reconciler's, the
replays') goes through `bearer_matches`, so they cannot drift apart.
"""

from __future__ import annotations

import hmac

from kernel.settings import Secret


def bearer_matches(authorization: str, expected: Secret | None) -> bool:
    if expected is None or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), expected.reveal().encode())
