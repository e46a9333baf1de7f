"""The contacts pass's pure parts: what is asked per platform, what an answer writes, which errors are a
person's refusal (recorded) rather than the page's problem (ending the pass)."""

from __future__ import annotations

import pytest

from reconciler.classify import Verdict
from reconciler.graph import GraphGaveUp, GraphPermanent, TokenDead
from reconciler.profiles import Profile, fields_for, parse, refusal_code

pytestmark = pytest.mark.unit


def test_each_platform_asks_for_its_own_profile_fields() -> None:
    assert fields_for("messenger") == "first_name,last_name,profile_pic"
    assert fields_for("instagram") == "name,username,profile_pic"


def test_a_messenger_answer_is_named_by_its_first_and_last_name() -> None:
    body = {"first_name": "Ada ", "last_name": "Lovelace", "profile_pic": "https://p/1.jpg", "id": "1"}
    assert parse(body) == Profile("Ada Lovelace", "Ada", "Lovelace", None, "https://p/1.jpg")
    assert parse({"first_name": "Ada", "id": "1"}).name == "Ada"


def test_an_instagram_answer_keeps_name_and_username_and_odd_values_are_dropped() -> None:
    assert parse({"name": "Ada L", "username": "ada", "profile_pic": "u"}) == Profile("Ada L", None, None, "ada", "u")
    assert parse({"name": "", "username": 7, "profile_pic": None}) == Profile(None, None, None, None, None)


def test_only_a_persons_refusal_is_recorded() -> None:
    assert refusal_code(GraphPermanent(Verdict("permanent", 551, "This person isn't available right now."))) == 551
    assert refusal_code(GraphPermanent(Verdict("permanent", 100, "does not exist"))) == 100
    assert refusal_code(GraphPermanent(Verdict("permanent", 10, "no permission"))) is None
    assert refusal_code(TokenDead(Verdict("token_dead", 190, "expired"))) is None
    assert refusal_code(GraphGaveUp(Verdict("throttled", 613, "rate"))) is None
