"""Connection churn: thousands of short connections, many gone while their reply is on its way.

From lesson 14 on a connection is shared (std::shared_ptr): whatever still has work for it (a reply
made in a worker thread, a queued send, a write complete) holds it, and the last one to let go
destroys it, in its own loop. Client threads open connections, send one line, and then either read
the echo and close, close at once (the reply made in a worker has nowhere to go), or reset the
connection (SO_LINGER 0) while the reply is on its way. The server must survive every one of them,
report each connection both opened and closed, keep serving, report nothing in a sanitizer build,
and give the memory back: its resident size after the churn stays near the size it had after a
warm-up of the same churn. The bound leaves room for the allocators' and the sanitizers' own
keeping (measured growth: 0.01 MiB in a plain build, 3-5 MiB with AddressSanitizer's 8 MiB quarantine
or ThreadSanitizer); a leak of 4 KiB per connection, a buffer block or a connection with its
buffers, exceeds it. Smaller leaks of objects nobody points to are LeakSanitizer's to report, at
the server's exit in the AddressSanitizer build.
"""

import re
import socket
import struct
import threading
import time

import pytest

from harness import logs, net

THREADS = 4
CYCLES = 750  # per thread: 3000 connections
WARMUP_CYCLES = 100  # per thread, before the memory baseline
CAP = 120.0  # seconds, for the whole churn; a sanitizer build on a loaded machine needs the margin
MIB = 1024 * 1024
# 3000 connections x 4 KiB; generous for what allocators and sanitizers keep (see above).
RSS_GROWTH_BOUND = 12 * MIB

ACCEPTED = re.compile(r"^accepted ", re.MULTILINE)
CLOSED = re.compile(r"^closed ", re.MULTILINE)


def churn(server, cycles, deadline):
    """`cycles` connections per thread, ending in turn by echo-and-close, close, and reset.
    Returns (completed cycles, echoes checked, errors)."""
    counts = {"cycles": 0, "echoes": 0}
    errors = []
    lock = threading.Lock()

    def client(t):
        for i in range(cycles):
            if deadline.expired():
                with lock:
                    errors.append(f"client {t}: out of time after {i} cycles")
                return
            message = f"client {t} cycle {i}\n".encode()
            try:
                sock = server.connect(nodelay=True)
                way = i % 3
                echoed = False
                try:
                    net.send_all(sock, message)
                    if way == 0:  # read the echo, then close
                        got = net.recv_exactly(sock, len(message), what=f"client {t} cycle {i}'s echo")
                        net.assert_same(message, got, f"client {t} cycle {i}'s echo")
                        echoed = True
                    elif way == 2:  # reset: RST instead of FIN, the reply still on its way
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                finally:
                    sock.close()  # way 1: a plain close, the reply still on its way
            except (AssertionError, OSError) as e:
                with lock:
                    errors.append(f"client {t} cycle {i}: {e}")
                return
            with lock:
                counts["cycles"] += 1
                counts["echoes"] += echoed

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline.remaining())
    if any(t.is_alive() for t in threads):
        errors.append("a client thread did not finish in time")
    return counts["cycles"], counts["echoes"], errors


def wait_until_all_closed(server, expected, deadline):
    """Polls the server's output until it has reported `expected` connections opened and as many
    closed. Returns (opened, closed) as last seen."""
    while True:
        text = logs.messages(server)
        opened, closed = len(ACCEPTED.findall(text)), len(CLOSED.findall(text))
        if (opened >= expected and closed == opened) or deadline.expired():
            return opened, closed
        server.assert_alive("while its connections were closing")
        time.sleep(0.05)  # polling the output, with a bound


@pytest.mark.feature("connection_churn")
def test_thousands_of_short_connections_many_gone_before_their_reply(start_server):
    server = start_server(args=["--workers", "4"])
    deadline = net.Deadline(CAP)
    done, _, errors = churn(server, WARMUP_CYCLES, deadline)
    assert not errors, "\n".join(errors[:10])
    wait_until_all_closed(server, THREADS * WARMUP_CYCLES, deadline)
    baseline = server.rss_bytes()

    done, echoes, errors = churn(server, CYCLES, deadline)
    assert not errors, f"{len(errors)} clients failed, the first ones:\n" + "\n".join(errors[:10])
    assert done == THREADS * CYCLES
    server.assert_alive("after the churn")
    expected = THREADS * (WARMUP_CYCLES + CYCLES)
    opened, closed = wait_until_all_closed(server, expected, deadline)
    assert opened == expected, f"the server reported {opened} connections opened, not {expected}"
    assert closed == opened, (f"{opened} connections opened, {closed} reported closed: "
                              f"{opened - closed} stay open on the server after their clients left")

    # Still serving, and the connections' memory given back.
    with server.connect() as sock:
        net.echo_round_trip(sock, b"still here\n")
    growth = server.rss_bytes() - baseline
    assert growth <= RSS_GROWTH_BOUND, (
        f"the server's memory grew by {growth / MIB:.1f} MiB over {THREADS * CYCLES} connections that "
        f"all closed (bound {RSS_GROWTH_BOUND / MIB:g} MiB): something is kept per connection")
