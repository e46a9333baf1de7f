"""Produce requests and answers written and read by hand (kernel.produce_wire) are byte for byte
what aiokafka's protocol classes write and read, for every version the edge uses them for."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from aiokafka.protocol import produce as protocol
from aiokafka.protocol.produce import ProduceRequest
from hypothesis import given
from hypothesis import strategies as st

from kernel import produce_wire
from kernel.aiokafka_wire import EdgeProduceRequest

names = st.text(min_size=1, max_size=20)
batches = st.lists(st.tuples(st.integers(0, 2**31 - 1), st.binary(max_size=300)), max_size=5)
topics = st.lists(st.tuples(names, batches), max_size=4)
versions = st.sampled_from(list(produce_wire.VERSIONS))


def aiokafka_class(kind: str, version: int) -> Any:
    return getattr(protocol, f"Produce{kind}_v{version}")


@given(version=versions, transactional_id=st.none() | names, acks=st.sampled_from([-1, 0, 1]),
       timeout_ms=st.integers(0, 2**31 - 1), topics=topics)
def test_a_request_is_written_as_aiokafka_writes_it(version: int, transactional_id: str | None, acks: int,
                                                     timeout_ms: int, topics: Any) -> None:
    theirs = aiokafka_class("Request", version)(transactional_id, acks, timeout_ms, topics).encode()
    assert produce_wire.encode_request(transactional_id, acks, timeout_ms, topics) == theirs


partitions_v3 = st.lists(st.tuples(st.integers(0, 2**31 - 1), st.integers(-1, 100),
                                   st.integers(-1, 2**63 - 1), st.integers(-1, 2**63 - 1)), max_size=6)


@given(version=versions, answered=st.lists(st.tuples(names, partitions_v3), max_size=4),
       log_start=st.integers(-1, 2**63 - 1), throttle_ms=st.integers(0, 2**31 - 1))
def test_an_answer_is_read_as_aiokafka_reads_it(version: int, answered: Any, log_start: int,
                                                 throttle_ms: int) -> None:
    if version >= 5:  # v5 added each partition's log start offset
        answered = [(topic, [(*partition, log_start) for partition in parts]) for topic, parts in answered]
    response = aiokafka_class("Response", version)
    data = response(answered, throttle_ms).encode()
    theirs = response.decode(io.BytesIO(data))
    assert produce_wire.decode_response(version, data) == (theirs.topics, theirs.throttle_time_ms)


def test_a_truncated_answer_is_an_error() -> None:
    data = protocol.ProduceResponse_v7([("events", [(0, 0, 5, -1, 0)])], 0).encode()
    for cut in (3, 10, len(data) - 1):
        with pytest.raises(struct.error):
            produce_wire.decode_response(7, data[:cut])
    with pytest.raises(ValueError, match="v2"):
        produce_wire.decode_response(2, data)


@pytest.mark.parametrize("newest", range(0, 9))
def test_the_edges_request_negotiates_as_aiokafkas_and_writes_the_same_bytes(newest: int) -> None:
    """Whatever versions a broker offers, the same version is chosen and the same bytes sent;
    versions below v3 are left to aiokafka's own classes."""
    batches_by_topic = [("events", [(0, b"a" * 10), (3, bytearray(b"b" * 7))]), ("raw", [(1, b"c")])]
    ours = EdgeProduceRequest(transactional_id=None, required_acks=-1, timeout=5000,
                              topics=batches_by_topic).prepare({0: (0, newest)})
    theirs = ProduceRequest(transactional_id=None, required_acks=-1, timeout=5000,
                            topics=batches_by_topic).prepare({0: (0, newest)})
    assert ours.API_VERSION == theirs.API_VERSION
    assert ours.encode() == theirs.encode()
    hand_written = ours.API_VERSION in produce_wire.VERSIONS
    assert (type(ours) is not type(theirs)) == hand_written
    if hand_written:
        answer = theirs.RESPONSE_TYPE([("events", [(0, 0, 1, -1, 0)[:5 if ours.API_VERSION >= 5 else 4]])], 0)
        read = ours.RESPONSE_TYPE.decode(io.BytesIO(answer.encode()))
        assert (read.topics, read.throttle_time_ms) == (answer.topics, answer.throttle_time_ms)
