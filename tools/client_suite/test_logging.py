"""Logging: one documented line format, and a line for every connection opened and closed.

From lesson 17 on the server logs through the library's logger (src/Logging.h) to stderr: each line
is `TIME TID LEVEL MESSAGE - FILE:LINE`, the time in UTC to the microsecond. At INFO it logs one line
when it accepts a connection and one when the connection closes, each naming the peer's
`address:port`; `--log-level LEVEL` hides what is below LEVEL. The tests read the server's stderr.
"""

import calendar
import re
import time

import pytest

from harness import logs, net
from test_usage import describe, has_usage_line, run

OPENED = re.compile(r"^accepted (?P<peer>\S+) ")
CLOSED = re.compile(r"^closed (?P<peer>\S+) ")


def log_lines(server):
    return logs.parse(server.stderr_text(None))


def peers(lines, pattern, level="INFO"):
    return {m["peer"] for line in lines if line.level == level
            for m in [pattern.match(line.message)] if m}


def wait_for(condition, what, server):
    deadline = net.Deadline(net.TIMEOUT)
    while not condition():
        assert not deadline.expired(), f"{what} within {net.TIMEOUT:g} s:\n{server.output_report()}"
        server.assert_alive("while the test waited for its log lines")
        time.sleep(0.02)


@pytest.mark.feature("logging")
def test_a_line_for_each_connection_opened_and_closed_naming_its_peer(start_server):
    server = start_server()
    names = []
    for i in range(3):
        with server.connect() as sock:
            names.append("%s:%d" % sock.getsockname())
            net.echo_round_trip(sock, f"client {i}\n".encode())
    wanted = set(names)
    wait_for(lambda: wanted <= peers(log_lines(server), CLOSED),
             f"no INFO `closed ADDR:PORT` line for each of {names}", server)
    lines = log_lines(server)
    assert wanted <= peers(lines, OPENED), (
        f"no INFO `accepted ADDR:PORT` line for each of {names}:\n{server.output_report()}")
    # Every line of stderr is a log line: no stray output beside the logger.
    stderr = server.stderr_text(None).splitlines()
    assert len(lines) == len(stderr), (
        "lines on stderr that are not in the log format:\n" +
        "\n".join(line for line in stderr if not logs.LOG_LINE.match(line)))
    now = time.time()
    for line in lines:
        stamped = calendar.timegm(time.strptime(line.time[:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(stamped - now) < 120, f"{line.time} is not the time (UTC) of the test run"
        assert line.source.split(":")[0].endswith((".cpp", ".cc", ".h")), line


@pytest.mark.feature("logging")
def test_log_level_warn_hides_the_connection_lines(start_server):
    # The stats line (stdout) says when the server has seen the client close: only then can the
    # absence of its lines mean something.
    server = start_server(args=["--log-level", "warn", "--stats-ms", "50"])
    with server.connect() as sock:
        net.echo_round_trip(sock, b"quiet\n")
    wait_for(lambda: re.search(r"^stats: 0 clients, 1 accepted, 1 closed$", server.stdout_text(),
                               re.MULTILINE),
             "no stats line counting the client closed", server)
    infos = [line for line in log_lines(server) if line.level in ("TRACE", "DEBUG", "INFO")]
    assert not infos, f"--log-level warn, yet lines below WARN:\n{server.stderr_text(4000)}"


@pytest.mark.feature("logging")
def test_log_level_debug_still_logs_the_connection_lines(start_server):
    server = start_server(args=["--log-level", "debug"])
    with server.connect() as sock:
        name = "%s:%d" % sock.getsockname()
        net.echo_round_trip(sock, b"verbose\n")
    wait_for(lambda: name in peers(log_lines(server), CLOSED),
             f"no `closed {name}` line at --log-level debug", server)


@pytest.mark.feature("logging")
@pytest.mark.parametrize("level", ["loud", "", "INFO2"])
def test_an_unknown_log_level_is_a_usage_error(server_exe, level):
    result = run(server_exe, "--port", "0", "--log-level", level)
    assert result.returncode == 2, describe(result)
    assert has_usage_line(result.stderr), "no line starting with 'usage:' on stderr\n" + describe(result)
