"""A timer in the loop: with --stats-ms MS the server prints a stats line every MS milliseconds.

From lesson 15 on the server takes `--stats-ms MS` and prints `stats: N clients, A accepted, C closed`
every MS milliseconds, from a repeating timer of its main loop, while it goes on serving. The test
checks the figures (clients that connected and closed are counted) and the pace (lines neither
faster than asked nor stopped while clients are served), with wide margins for a loaded machine.
"""

import re
import time

import pytest

from harness import net

STATS = re.compile(r"^stats: (\d+) clients, (\d+) accepted, (\d+) closed$", re.MULTILINE)
INTERVAL_MS = 100


def stats_lines(server):
    return [tuple(map(int, m.groups())) for m in STATS.finditer(server.stdout_text(None))]


def wait_for(condition, timeout, what, server):
    deadline = net.Deadline(timeout)
    while not condition():
        assert not deadline.expired(), f"{what} within {timeout:g} s:\n{server.output_report()}"
        time.sleep(0.02)


@pytest.mark.feature("periodic_stats")
def test_stats_lines_count_the_clients(start_server):
    server = start_server(args=["--stats-ms", str(INTERVAL_MS)])
    socks = [server.connect() for _ in range(3)]
    try:
        for i, sock in enumerate(socks):
            net.echo_round_trip(sock, f"client {i}\n".encode())
        socks.pop().close()
        wait_for(lambda: (2, 3, 1) in stats_lines(server), net.TIMEOUT,
                 "no `stats: 2 clients, 3 accepted, 1 closed` line after 3 clients came and 1 left",
                 server)
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.feature("periodic_stats")
def test_stats_lines_keep_their_pace_while_clients_are_served(start_server):
    server = start_server(args=["--stats-ms", str(INTERVAL_MS)])
    sock = server.connect()
    try:
        wait_for(lambda: len(stats_lines(server)) >= 1, net.TIMEOUT, "no stats line", server)
        before = len(stats_lines(server))
        started = time.monotonic()
        round_trips = 0
        deadline = net.Deadline(net.TIMEOUT)
        # Ten more lines while a client keeps the loop busy with round trips: nine intervals at
        # least between the first and the tenth (the first may come at once).
        while len(stats_lines(server)) < before + 10:
            assert not deadline.expired(), (
                f"{len(stats_lines(server)) - before} stats lines in {net.TIMEOUT:g} s with "
                f"--stats-ms {INTERVAL_MS}, not 10: the timer stopped\n{server.output_report()}")
            net.echo_round_trip(sock, b"busy\n")
            round_trips += 1
        elapsed = time.monotonic() - started
        least = 9 * INTERVAL_MS / 1000 * 0.95  # the timerfd fires no earlier; 5% for rounding
        assert elapsed >= least, (f"10 stats lines in {elapsed:.3f} s with --stats-ms {INTERVAL_MS}: "
                                  f"faster than asked (at least {least:.3f} s)")
        assert round_trips > 0
    finally:
        sock.close()
