"""The writer's fixtures (a consumer of this test's topics, a reference database) for replay tests."""

from tests.consumers.conftest import consumer_settings, reference_db

__all__ = ["consumer_settings", "reference_db"]
