"""Fd exhaustion: out of file descriptors, the server keeps serving and does not spin.

The server runs with its soft RLIMIT_NOFILE lowered to NOFILE (for this server only). KEEPERS
clients connect and are echoed, and stay connected; then EXTRAS more connect. The kernel completes
their handshakes in the listen backlog, but the server cannot accept them all: accept() fails with
EMFILE while the connections wait. Then, for HOLD seconds:

- the keepers must still be echoed;
- the server must stay (nearly) idle: at most CPU_BOUND seconds of CPU time. A server on a
  level-triggered poller that only reports EMFILE and returns is woken again at once, because the
  listening socket is still readable: it spins, burning a whole core. A blocking accept() loop spins
  the same way. The remedy (lesson 7) keeps a spare descriptor: close it, accept, close the
  connection at once, open the spare again.

Then the extra clients leave, and a fresh client must be served within FRESH_BOUND (one that comes
before the server has freed the descriptors of the extras is shed, and tries again).

A server that serves one client at a time (lesson 1) already fails at the second keeper.
"""

import errno
import os
import selectors
import socket
import time

import pytest

from harness import net

NOFILE = 64  # the server's soft limit on open files
KEEPERS = 10
EXTRAS = 100
HOLD = 3.0  # seconds of the hold window
CPU_BOUND = 0.5  # seconds of server CPU time allowed in the hold window
TICK = 0.1  # seconds between the checks of the hold window (one keeper is echoed per tick)
ECHO_BOUND = 5.0  # seconds for one keeper's echo
CONNECT_BOUND = 10.0  # seconds for all extra clients' connects to complete
FRESH_BOUND = 10.0  # seconds for the fresh client, after the extras left, to be echoed


def connect_extras(server, count):
    """`count` connected sockets, connected without blocking, all done within CONNECT_BOUND."""
    socks = []
    with selectors.DefaultSelector() as sel:
        for i in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setblocking(False)
            err = sock.connect_ex((server.host, server.port))
            if err in (errno.EINPROGRESS, errno.EAGAIN):
                sel.register(sock, selectors.EVENT_WRITE, i)
            elif err != 0:
                raise AssertionError(f"extra client {i}: connect failed at once: {os.strerror(err)}")
        deadline = net.Deadline(CONNECT_BOUND)
        while sel.get_map():
            if deadline.expired():
                raise AssertionError(f"only {count - len(sel.get_map())} of {count} extra clients "
                                     f"connected within {CONNECT_BOUND:g} s")
            for key, _ in sel.select(deadline.remaining()):
                err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise AssertionError(f"extra client {key.data}: connect failed: {os.strerror(err)}")
                sel.unregister(key.fileobj)
    return socks


@pytest.mark.feature("fd_exhaustion")
def test_out_of_file_descriptors(start_server):
    server = start_server(nofile=NOFILE)
    keepers, extras = [], []
    try:
        for i in range(KEEPERS):
            keepers.append(server.connect(ECHO_BOUND))
            others = "" if i == 0 else " while keeper 0 stays connected" if i == 1 else \
                f" while keepers 0-{i - 1} stay connected"
            net.echo_round_trip(keepers[i], f"keeper {i}\n".encode(), ECHO_BOUND,
                                what=f"keeper {i} of {KEEPERS}{others}")
        extras = connect_extras(server, EXTRAS)

        cpu_start = server.cpu_seconds()
        start = time.monotonic()
        echoes = 0
        while True:
            elapsed = time.monotonic() - start
            used = server.cpu_seconds() - cpu_start
            if used > CPU_BOUND:
                raise AssertionError(
                    f"with {KEEPERS} keepers and {EXTRAS} more clients on an open-file limit of {NOFILE}, "
                    f"the server used {used:.2f} s of CPU time in {elapsed:.2f} s (bound: {CPU_BOUND:g} s "
                    f"in {HOLD:g} s): it spins on accept() failing with EMFILE\n"
                    f"--- end of its stderr ---\n{server.stderr_text(600).partition(chr(10))[2]}")
            if elapsed >= HOLD:
                break
            k = echoes % KEEPERS
            net.echo_round_trip(keepers[k], f"keeper {k} in the hold window, echo {echoes}\n".encode(),
                                ECHO_BOUND, what=f"keeper {k} while the server is out of descriptors")
            echoes += 1
            time.sleep(TICK)  # pacing: the keepers' echoes must not be what keeps the server busy

        for sock in extras:
            sock.close()
        extras = []
        # The server frees the descriptors of the extras it accepted once it has read their end of
        # stream, which takes a moment (with I/O threads, a hop to the accepting loop and back). A
        # client that comes before that is shed, as it should be: try again, within FRESH_BOUND.
        deadline = net.Deadline(FRESH_BOUND)
        while True:
            try:
                with server.connect(FRESH_BOUND) as fresh:
                    net.echo_round_trip(fresh, b"a fresh client after the extra clients left\n",
                                        max(deadline.remaining(), 0.5),
                                        what="a fresh client after the extra clients left")
                break
            except AssertionError:
                if deadline.expired():
                    raise
                time.sleep(TICK)  # pacing between attempts, bounded by the deadline
        net.echo_round_trip(keepers[0], b"keeper 0 at the end\n", ECHO_BOUND, what="keeper 0 at the end")
    finally:
        for sock in keepers + extras:
            sock.close()
