"""Idle connections: with --idle-timeout S a client that sends nothing for S seconds is closed.

From lesson 16 on the server takes `--idle-timeout S`. A client that has sent nothing for S seconds
is closed by the server (it reads end of stream); one that keeps sending is never closed. Lesson 15
has no such flag and keeps idle clients forever: the limitation this feature shows there. The test
passes the flag when the server's --help mentions it, and checks the behaviour either way.

Bounds, wide for a loaded machine: an idle client is not closed before S seconds of silence, and
is closed within S + 1 (the timing wheel's one-second tick) + a margin.
"""

import selectors
import socket
import subprocess
import time

import pytest

from harness import net

IDLE_TIMEOUT = 2
IDLE_CLIENTS = 5
ACTIVE_CLIENTS = 3
ACTIVE_EVERY = 0.25  # each active client sends this often: far more often than the timeout
EARLIEST = IDLE_TIMEOUT - 0.1  # a little slack for the two clocks and for the close travelling
LATEST = IDLE_TIMEOUT + 1 + 4.0


def supports_idle_timeout(server_exe):
    usage = subprocess.run([server_exe, "--help"], capture_output=True, text=True, timeout=30)
    return "--idle-timeout" in usage.stdout


def closed_by_peer(sock):
    """True if the server has closed the connection (EOF or reset), False if it is still open."""
    try:
        data = sock.recv(4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    assert data == b"", f"an idle client received {data!r}: nothing was sent to be echoed"
    return True


@pytest.mark.feature("idle_timeout")
def test_idle_clients_are_closed_and_active_ones_stay(start_server, server_exe):
    args = ["--idle-timeout", str(IDLE_TIMEOUT)] if supports_idle_timeout(server_exe) else []
    server = start_server(args=args)
    idle = [server.connect() for _ in range(IDLE_CLIENTS)]
    active = [server.connect() for _ in range(ACTIVE_CLIENTS)]
    socks = idle + active
    try:
        # Every client is served once; the idle ones then fall silent, from `last_sent` on.
        for i, sock in enumerate(socks):
            net.echo_round_trip(sock, f"client {i}\n".encode())
        last_sent = {sock: time.monotonic() for sock in idle}
        closed_after = {}
        selector = selectors.DefaultSelector()
        for sock in idle:
            selector.register(sock, selectors.EVENT_READ)
        next_ping = time.monotonic()
        deadline = time.monotonic() + LATEST + 1.0
        pings = 0
        while len(closed_after) < IDLE_CLIENTS and time.monotonic() < deadline:
            if time.monotonic() >= next_ping:
                for i, sock in enumerate(active):
                    net.echo_round_trip(sock, f"still here {i}\n".encode(),
                                        what=f"active client {i} after {pings} pings")
                pings += 1
                next_ping = time.monotonic() + ACTIVE_EVERY
            for key, _ in selector.select(timeout=max(0.0, min(next_ping, deadline) - time.monotonic())):
                sock = key.fileobj
                if closed_by_peer(sock):
                    closed_after[sock] = time.monotonic() - last_sent[sock]
                    selector.unregister(sock)
        selector.close()
        assert len(closed_after) == IDLE_CLIENTS, (
            f"{IDLE_CLIENTS - len(closed_after)} of {IDLE_CLIENTS} idle clients still open "
            f"{LATEST + 1.0:g} s after they fell silent (args {args}): the server keeps idle "
            "connections forever")
        for sock, after in closed_after.items():
            assert EARLIEST <= after <= LATEST, (
                f"an idle client was closed after {after:.2f} s of silence, with --idle-timeout "
                f"{IDLE_TIMEOUT}: expected {EARLIEST:g} to {LATEST:g} s")
        # The active clients were never closed: each is still echoed, well past the timeout.
        for i, sock in enumerate(active):
            net.echo_round_trip(sock, f"active {i} at the end\n".encode(), what=f"active client {i}")
        assert pings * ACTIVE_EVERY > IDLE_TIMEOUT
    finally:
        for sock in socks:
            sock.close()
