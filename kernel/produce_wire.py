"""Kafka's Produce request (v3-v7) and its answer, written and read by hand. Pure.

The edge sends a Produce request for every group of webhooks (ingest.shipping). aiokafka's protocol
classes write and read them through a generic schema walker, a Python call per field: in
bench/produce_cpu.py (a group of 16 webhooks, 7 batches) 17.9 us to write the request and 15.7 us to
read its answer, against 4.1 and 3.5 us here (the request's framing and header are still aiokafka's),
about 1.6 us less per webhook. Produce
v3 to v7 share one request layout; their answers differ only in v5's `log_start_offset`.

    encode_request(transactional_id, acks, timeout_ms, topics) -> bytes   the request body (no header)
    decode_response(version, data) -> (topics, throttle_time_ms)
        topics: [(topic, [(partition, error_code, base_offset, log_append_time, [log_start_offset])])]

Both give exactly what aiokafka's `ProduceRequest_vN.encode()` and `ProduceResponse_vN.decode()`
give (tests/kernel/test_produce_wire.py checks them against each other). A truncated answer raises
`struct.error`, as aiokafka's reader does.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

VERSIONS = range(3, 8)  # Produce v3 (transactional ids, record batch v2) to v7

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_ACKS_TIMEOUT_COUNT = struct.Struct(">hii")
_PARTITION_HEAD = struct.Struct(">ii")  # partition, length of its records
_PARTITION_V3 = struct.Struct(">ihqq")  # partition, error code, base offset, log append time
_PARTITION_V5 = struct.Struct(">ihqqq")  # ... and the log start offset

Batches = Sequence[tuple[int, bytes | bytearray]]
Answer = list[tuple[str, list[tuple[int, ...]]]]


def encode_request(transactional_id: str | None, acks: int, timeout_ms: int,
                   topics: Sequence[tuple[str, Batches]]) -> bytes:
    """The body of a Produce request v3-v7: `topics` as (topic, [(partition, record batch bytes)])."""
    parts: list[bytes | bytearray] = [_string(transactional_id),
                                      _ACKS_TIMEOUT_COUNT.pack(acks, timeout_ms, len(topics))]
    for topic, partitions in topics:
        parts.append(_string(topic))
        parts.append(_INT32.pack(len(partitions)))
        for partition, records in partitions:
            parts.append(_PARTITION_HEAD.pack(partition, len(records)))
            parts.append(records)
    return b"".join(parts)


def decode_response(version: int, data: bytes | bytearray | memoryview) -> tuple[Answer, int]:
    """The topics and throttle time of a Produce answer v3-v7 (its body, after the header)."""
    if version not in VERSIONS:
        raise ValueError(f"Produce v{version} is not read here")
    partition_layout = _PARTITION_V5 if version >= 5 else _PARTITION_V3
    size = partition_layout.size
    position = 4
    (topic_count,) = _INT32.unpack_from(data, 0)
    topics: Answer = []
    for _ in range(topic_count):
        topic, position = _read_string(data, position)
        (partition_count,) = _INT32.unpack_from(data, position)
        position += 4
        partitions = []
        for _ in range(partition_count):
            partitions.append(partition_layout.unpack_from(data, position))
            position += size
        topics.append((topic, partitions))
    (throttle_time_ms,) = _INT32.unpack_from(data, position)
    return topics, throttle_time_ms


def _string(value: str | None) -> bytes:
    if value is None:
        return b"\xff\xff"  # a null string: length -1
    encoded = value.encode()
    return _INT16.pack(len(encoded)) + encoded


def _read_string(data: bytes | bytearray | memoryview, position: int) -> tuple[str, int]:
    (length,) = _INT16.unpack_from(data, position)
    position += 2
    if length < 0 or position + length > len(data):
        raise struct.error("a topic name outside the answer")
    return bytes(data[position:position + length]).decode(), position + length
