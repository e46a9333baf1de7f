"""One listening socket per worker, so the kernel spreads connections evenly (SO_REUSEPORT).

uvicorn's `--workers N` binds one socket in the parent and hands the same socket to every worker.
Whichever worker's event loop wakes first accepts every connection waiting, so keep-alive clients
that connect together (Meta's delivery pool, a load generator) land mostly on one worker: 53 of 64
connections in bench/webhook.py, while the other worker idled. The edge's requests wait a moment
for Kafka, so an idle worker cannot make up for a crowded one by answering faster.

With SO_REUSEPORT every worker listens on a socket of its own, all bound to the same address, and
the kernel hashes each new connection to one of them: 64 connections split about 32/32.

`ReusePortSocket` is the socket `convsync serve` gives uvicorn's worker supervisor. The parent binds
it, so a port in use fails at once, but never listens on it (the kernel only hands connections to
listening sockets). multiprocessing pickles it for each worker it starts, or restarts, and there it
is unpickled as a fresh socket bound to the same address (`__reduce_ex__`), on which that worker's
server listens.

Any process of the same user may join such a port: run the edge under its own user, as usual.
"""

from __future__ import annotations

import socket
from typing import Any

SUPPORTED = hasattr(socket, "SO_REUSEPORT")


class ReusePortSocket(socket.socket):
    """Bound, not listening; pickled, it becomes a new socket bound to the same address."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return bound_socket, (self.family, self.getsockname())


def reuse_port_socket(host: str, port: int) -> ReusePortSocket:
    """The parent's socket: bound to host:port (port 0 picks one, which every worker then shares)."""
    family, address = _address(host, port)
    sock = ReusePortSocket(family, socket.SOCK_STREAM)
    _bind(sock, address)
    return sock


def bound_socket(family: socket.AddressFamily, address: Any) -> socket.socket:
    """A worker's own socket on the shared address (what a pickled `ReusePortSocket` becomes)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    _bind(sock, address)
    return sock


def _bind(sock: socket.socket, address: Any) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise


def _address(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                  flags=socket.AI_PASSIVE)[0]
    return family, address
