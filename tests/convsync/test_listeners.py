"""Per-worker listening sockets: each worker's copy is its own socket on the shared address, and the
kernel spreads connections over them."""

from __future__ import annotations

import selectors
import socket
from multiprocessing.reduction import ForkingPickler

import pytest

from convsync.listeners import SUPPORTED, reuse_port_socket

pytestmark = pytest.mark.skipif(not SUPPORTED, reason="no SO_REUSEPORT on this platform")
CONNECTIONS = 64


def worker_copy(sock: socket.socket) -> socket.socket:
    """What a worker process receives: multiprocessing pickles the parent's socket for it."""
    copy: socket.socket = ForkingPickler.loads(bytes(ForkingPickler.dumps(sock)))
    return copy


def test_each_worker_gets_its_own_socket_on_the_parents_address() -> None:
    parent = reuse_port_socket("127.0.0.1", 0)
    with parent, worker_copy(parent) as first, worker_copy(parent) as second:
        assert first.fileno() != second.fileno() != parent.fileno()
        assert first.getsockname() == second.getsockname() == parent.getsockname()
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        first.listen()  # a socket of its own, not a duplicate of the parent's: only it listens
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert parent.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        assert second.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0


def test_connections_spread_over_the_listening_workers_and_none_is_lost() -> None:
    parent = reuse_port_socket("127.0.0.1", 0)
    workers = [worker_copy(parent), worker_copy(parent)]
    clients: list[socket.socket] = []
    accepted: dict[int, list[socket.socket]] = {0: [], 1: []}
    selector = selectors.DefaultSelector()
    try:
        for index, worker in enumerate(workers):
            worker.listen(CONNECTIONS)
            worker.setblocking(False)
            selector.register(worker, selectors.EVENT_READ, index)
        for _ in range(CONNECTIONS):  # the parent's socket is bound but not listening: it takes none
            clients.append(socket.create_connection(parent.getsockname(), timeout=5))
        while sum(map(len, accepted.values())) < CONNECTIONS:
            ready = selector.select(timeout=5)
            assert ready, f"only {sum(map(len, accepted.values()))} of {CONNECTIONS} connections accepted"
            for key, _ in ready:
                with_worker = workers[key.data]
                accepted[key.data].append(with_worker.accept()[0])
        # Hashing 64 connections over two sockets leaves one of them empty with odds of 2 in 10^19.
        assert all(accepted.values()), {index: len(taken) for index, taken in accepted.items()}
    finally:
        selector.close()
        for sock in [*clients, *workers, parent, *accepted[0], *accepted[1]]:
            sock.close()
