"""The durable local spool: accepted webhooks that Kafka did not acknowledge in time.

When the broker is slow or down, the edge appends the request (raw body, signature, received time,
body hash) here, fsyncs, and only then answers 200; a background task (`ingest.drain`) produces
the spooled requests to Kafka, oldest first, once it is back. Everything needed to rebuild the
records is stored, so the drain re-parses the body and produces exactly what the edge would have.

On disk: segment files `<time_ns>-<pid>-<seq>.spool` in one directory, each a sequence of frames
`length:u32 crc32:u32 payload`, payload = `meta_length:u32 meta_json body`. A segment is created
under a temporary name, locked (flock) and only then renamed, so a drainer (which locks before it
reads) never sees a segment its writer still appends to. The lock dies with its process, so a
segment left by a killed process is drained by the next one. A torn last frame (a crash during
the write, before the answer) ends the segment. Several processes may share the directory.

Bounded: an append that would grow the directory past `max_bytes` raises `SpoolFull` (answer 503).
Appends block on fsync: call them from a thread.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ingest.received import Received

SUFFIX = ".spool"
_FRAME = struct.Struct(">II")
_META = struct.Struct(">I")


class SpoolFull(Exception):
    """The spool reached its size bound: refuse the request (503) so Meta retries later."""


def encode_frame(request: Received) -> bytes:
    meta = json.dumps({"signature": request.signature, "received_at": request.received_at,
                       "body_sha256": request.body_sha256}).encode()
    payload = _META.pack(len(meta)) + meta + request.body
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes) -> Iterator[Received]:
    """The complete frames of a segment, in order; stops at a torn or corrupt tail."""
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, offset)
        payload = data[offset + _FRAME.size: offset + _FRAME.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            return
        (meta_length,) = _META.unpack_from(payload)
        meta = json.loads(payload[_META.size: _META.size + meta_length])
        yield Received(payload[_META.size + meta_length:], meta["signature"], meta["received_at"],
                       meta["body_sha256"])
        offset += _FRAME.size + length


class Spool:
    """Appends (thread-safe, fsynced) to this process's open segment; lists sealed segments."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._current: BinaryIO | None = None
        self._seq = 0
        directory.mkdir(parents=True, exist_ok=True)

    def append(self, request: Received) -> None:
        frame = encode_frame(request)
        with self._lock:
            if self.size_bytes() + len(frame) > self.max_bytes:
                raise SpoolFull
            segment = self._current or self._open_segment()
            segment.write(frame)
            segment.flush()
            os.fsync(segment.fileno())

    def seal(self) -> None:
        """Close the open segment (if any) so a drainer can take it."""
        with self._lock:
            if self._current is not None:
                self._current.close()  # closing releases the flock
                self._current = None

    def segments(self) -> list[Path]:
        """Segment files in the directory, oldest first (some may be locked by their writer)."""
        return sorted(self.directory.glob("*" + SUFFIX))

    def size_bytes(self) -> int:
        total = 0
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX):
                    total += _size(entry)
        return total

    def has_room_for(self, request_bytes: int) -> bool:
        """Whether one more request of that size would fit (readiness asks for the largest)."""
        return self.size_bytes() + request_bytes <= self.max_bytes

    def _open_segment(self) -> BinaryIO:
        self._seq += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}"
        temporary = self.directory / (name + ".open")
        segment = open(temporary, "xb")  # noqa: SIM115 - kept open across appends
        fcntl.flock(segment.fileno(), fcntl.LOCK_EX)
        temporary.rename(self.directory / (name + SUFFIX))
        _fsync_directory(self.directory)
        self._current = segment
        return segment


def _size(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat().st_size
    except FileNotFoundError:  # drained and removed meanwhile
        return 0


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentClaim:
    """An exclusive, non-blocking claim on one segment; `None` from `claim` when someone holds it."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def claim(cls, path: Path) -> SegmentClaim | None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - released by `release`
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        if not path.exists():  # drained by another process between our open and lock
            handle.close()
            return None
        return cls(path, handle)

    def read(self) -> list[Received]:
        return list(read_frames(self._handle.read()))

    def done(self) -> None:
        """Every request of the segment reached Kafka: remove it."""
        self.path.unlink(missing_ok=True)
        _fsync_directory(self.path.parent)
        self.release()

    def release(self) -> None:
        self._handle.close()
