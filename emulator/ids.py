"""Meta-shaped identifiers, drawn from one seeded `random.Random` so a world is reproducible.

Shapes follow what Meta hands out: numeric strings for pages and users (Instagram account ids start
with 1784, IGSIDs are 17 digits, PSIDs 16), `t_<digits>` for conversations, `m_<base64url>` for
Messenger message ids and base64 of `ig_item:...` (so `aWdf...`) for Instagram ones.
"""

from __future__ import annotations

import base64
import random
from typing import Literal

Platform = Literal["messenger", "instagram"]
PLATFORMS: tuple[Platform, ...] = ("messenger", "instagram")


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(10 ** (n - 1), 10**n - 1))


def page_id(rng: random.Random, platform: Platform) -> str:
    return "1784" + _digits(rng, 13) if platform == "instagram" else "10" + _digits(rng, 13)


def linked_page_id(account_id: str) -> str:
    """The Facebook Page an Instagram account is linked to: its own id, derived (not drawn) so adding
    it left every seeded world as it was."""
    return "10" + account_id[4:] if account_id.startswith("1784") else "10" + account_id


def user_id(rng: random.Random, platform: Platform) -> str:
    return "1" + _digits(rng, 16) if platform == "instagram" else str(rng.randint(2, 9)) + _digits(rng, 15)


def conversation_id(rng: random.Random) -> str:
    return "t_" + _digits(rng, 15)


def message_id(rng: random.Random, platform: Platform) -> str:
    if platform == "instagram":
        raw = f"ig_item:1:IGMessage:{_digits(rng, 17)}:{_digits(rng, 20)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return "m_" + base64.urlsafe_b64encode(rng.randbytes(45)).decode()


def access_token(rng: random.Random) -> str:
    return "EAAG" + base64.urlsafe_b64encode(rng.randbytes(60)).decode().rstrip("=")
