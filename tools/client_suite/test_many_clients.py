"""Many clients: 1000 connections open at the same time, every one of them served.

All clients live in one thread on non-blocking sockets and a selector, as a Reactor client would.
Nothing is timed: the test fails when nothing moves for STALL seconds (lack of progress), or at the
overall CAP, and says how far it got. A server that serves one client at a time therefore fails in
about STALL seconds instead of hanging.
"""

import errno
import os
import selectors
import socket
import time

import pytest

from harness import net

CLIENTS = 1000
STALL = 10.0  # seconds without any connect completing or any echoed byte arriving
CAP = 60.0  # seconds for the whole test


def message_for(i):
    return f"many clients: client {i:04d}\n".encode()


class Progress:
    """Runs a selector until `done()`; AssertionError after STALL seconds without progress, or at CAP."""

    def __init__(self, sel, deadline):
        self.sel = sel
        self.deadline = deadline

    def run(self, handle, done, status):
        """handle(key, mask) returns True when it made progress; status() describes how far we got."""
        last = time.monotonic()
        while not done():
            idle = time.monotonic() - last
            if idle >= STALL:
                raise AssertionError(f"no progress for {STALL:g} s: {status()}")
            if self.deadline.expired():
                raise AssertionError(f"not done within {CAP:g} s: {status()}")
            timeout = min(STALL - idle, self.deadline.remaining(), 0.5)
            for key, mask in self.sel.select(timeout):
                if handle(key, mask):
                    last = time.monotonic()


@pytest.mark.feature("many_clients")
def test_1000_clients_connected_at_once(server):
    deadline = net.Deadline(CAP)
    sel = selectors.DefaultSelector()
    socks = []
    try:
        # 1. Connect all of them, without blocking: connects beyond what the server accepts stay
        #    pending (the kernel drops SYNs when the listen backlog is full), and that must show as
        #    lack of progress, not as a hang.
        connecting = set()
        for i in range(CLIENTS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            err = sock.connect_ex((server.host, server.port))
            if err in (errno.EINPROGRESS, errno.EAGAIN):
                connecting.add(i)
                sel.register(sock, selectors.EVENT_WRITE, i)
            elif err != 0:
                raise AssertionError(f"client {i}: connect failed at once: {os.strerror(err)}")

        def on_connected(key, mask):
            i = key.data
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise AssertionError(f"client {i}: connect failed: {os.strerror(err)} "
                                     f"({CLIENTS - len(connecting)} of {CLIENTS} connected)")
            sel.unregister(key.fileobj)
            connecting.discard(i)
            return True

        Progress(sel, deadline).run(
            on_connected, lambda: not connecting,
            lambda: f"{CLIENTS - len(connecting)} of {CLIENTS} clients connected")

        # 2. Every client sends its own short message. A new socket's send buffer is empty, so the
        #    whole message is taken at once.
        for i, sock in enumerate(socks):
            msg = message_for(i)
            try:
                n = sock.send(msg)
            except OSError as e:
                raise AssertionError(f"client {i}: send failed: {e!r}") from e
            assert n == len(msg), f"client {i}: only {n} of {len(msg)} bytes accepted by the kernel"

        # 3. Collect the echoes.
        received = [bytearray() for _ in range(CLIENTS)]
        waiting = set(range(CLIENTS))
        for i, sock in enumerate(socks):
            sel.register(sock, selectors.EVENT_READ, i)

        def on_readable(key, mask):
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                return False
            except OSError as e:
                raise AssertionError(f"client {i}: {e!r} after {len(received[i])} echoed bytes") from e
            if not data:
                raise AssertionError(f"client {i}: the server closed the connection after "
                                     f"{len(received[i])} echoed bytes")
            received[i] += data
            expected = message_for(i)
            if len(received[i]) >= len(expected):
                net.assert_same(expected, bytes(received[i]), f"client {i}")
                sel.unregister(key.fileobj)
                waiting.discard(i)
            return True

        Progress(sel, deadline).run(
            on_readable, lambda: not waiting,
            lambda: f"{CLIENTS - len(waiting)} of {CLIENTS} clients got their whole echo")
    finally:
        sel.close()
        for sock in socks:
            sock.close()
    server.assert_alive(f"after serving {CLIENTS} clients")
