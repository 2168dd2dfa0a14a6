"""Main and sub-Reactors: with --threads N the accepting loop hands connections to N I/O loops.

From lesson 13 on the server takes `--threads N`: N I/O threads besides the one that accepts, each
running an event loop of its own, given the new connections in turn (round robin). Its line for a
new connection (a log line from lesson 17 on) names the loop that serves it: `accepted ADDR:PORT on
io loop K (N clients)`. The test connects clients one after the other and reads those lines: with 2
I/O threads, the loops alternate, and every client is echoed by its loop, also while the others are
busy.
"""

import os
import re

import pytest

from harness import logs, net

ACCEPTED = re.compile(r"^accepted (?P<peer>\S+) on (?P<loop>.+) \(\d+ clients\)$", re.MULTILINE)


@pytest.mark.feature("multi_reactor")
def test_connections_go_to_the_io_loops_in_turn(start_server):
    server = start_server(args=["--threads", "2"])
    socks = []
    try:
        peers = []
        for i in range(4):
            sock = server.connect()
            socks.append(sock)
            # Echoed: accepted, given to its loop, and served there before the next one connects.
            net.echo_round_trip(sock, f"client {i}\n".encode())
            peers.append("%s:%d" % sock.getsockname())
        lines = {m.group("peer"): m.group("loop") for m in ACCEPTED.finditer(logs.messages(server))}
        loops = [lines.get(peer) for peer in peers]
        assert None not in loops, (f"no `accepted ADDR:PORT on LOOP` line for some of {peers}:\n"
                                   f"{server.output_report()}")
        assert loops[0] != loops[1] and loops[0] == loops[2] and loops[1] == loops[3], (
            f"4 connections, 2 I/O loops: expected them in turn, got {loops}")
        assert "main loop" not in loops, "with I/O threads, no connection stays on the main loop"
        for i, sock in enumerate(socks):  # every loop still serves its connections
            net.echo_round_trip(sock, f"client {i} again\n".encode())
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.feature("multi_reactor")
def test_io_loops_are_threads_of_their_own(start_server):
    server = start_server(args=["--threads", "3"])
    with server.connect() as sock:
        net.echo_round_trip(sock, b"hello\n")
        task_dir = f"/proc/{server.proc.pid}/task"
        names = []
        for tid in os.listdir(task_dir):
            with open(f"{task_dir}/{tid}/comm") as f:
                names.append(f.read().strip())
    # Named by the server (pthread_setname_np), so that other threads (workers, a sanitizer's) do
    # not count.
    io_threads = sorted(name for name in names if name.startswith("io loop"))
    assert io_threads == ["io loop 1", "io loop 2", "io loop 3"], (
        f"expected 3 threads named io loop 1..3, the server's threads are {sorted(names)}")
