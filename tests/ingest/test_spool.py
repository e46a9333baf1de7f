"""The spool on a local folder: frames survive reopening, a torn tail is ignored, claims are exclusive."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.received import Received
from ingest.spool import SegmentClaim, Spool, SpoolFull, encode_frame, read_frames


def request(n: int) -> Received:
    return Received(body=b'{"n":%d}' % n, signature=f"sha256={n:064x}", received_at=1000 + n, body_sha256=f"{n:064x}")


def test_frames_round_trip_and_a_torn_tail_ends_the_segment() -> None:
    data = b"".join(encode_frame(request(n)) for n in range(3))
    assert list(read_frames(data)) == [request(0), request(1), request(2)]
    assert list(read_frames(data[:-1])) == [request(0), request(1)]
    corrupt = bytearray(data)
    corrupt[-2] ^= 0xFF
    assert list(read_frames(bytes(corrupt))) == [request(0), request(1)]


def test_the_open_segment_is_claimed_only_after_sealing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append(request(1))
    spool.append(request(2))
    (segment,) = spool.segments()
    assert SegmentClaim.claim(segment) is None  # its writer still holds it
    spool.seal()
    claim = SegmentClaim.claim(segment)
    assert claim is not None
    assert SegmentClaim.claim(segment) is None  # one drainer at a time
    assert claim.read() == [request(1), request(2)]
    claim.done()
    assert spool.segments() == [] and spool.size_bytes() == 0


def test_a_new_spool_object_reads_what_an_earlier_one_left(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    first.append(request(1))
    first.seal()
    first.append(request(2))
    first.seal()
    segments = Spool(tmp_path, 1 << 20).segments()
    assert len(segments) == 2
    read = []
    for path in segments:  # oldest first
        claim = SegmentClaim.claim(path)
        assert claim is not None
        read.append(claim.read())
        claim.release()
    assert read == [[request(1)], [request(2)]]


def test_bounded(tmp_path: Path) -> None:
    frame = len(encode_frame(request(1)))
    spool = Spool(tmp_path, 2 * frame)
    spool.append(request(1))
    spool.append(request(2))
    with pytest.raises(SpoolFull):
        spool.append(request(3))
    spool.seal()
    assert not spool.has_room_for(1) and spool.size_bytes() == 2 * frame
