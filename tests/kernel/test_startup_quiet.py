"""The start-up's quieting of aiokafka's own log lines (pure: logging only)."""

from __future__ import annotations

import logging

from kernel.startup import _Quieted


def test_overlapping_quiet_spells_give_the_logger_back_its_own_level() -> None:
    logger = logging.getLogger("convsync-test-quieted")
    logger.setLevel(logging.INFO)
    quiet = _Quieted("convsync-test-quieted")
    first, second = quiet(), quiet()
    first.__enter__()
    second.__enter__()  # a second client starting meanwhile
    assert logger.level == logging.CRITICAL
    first.__exit__(None, None, None)  # the first ends before the second
    assert logger.level == logging.CRITICAL  # the second still wants quiet
    second.__exit__(None, None, None)
    assert logger.level == logging.INFO  # not the CRITICAL the second would have saved
