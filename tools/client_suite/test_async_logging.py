"""Asynchronous logging: with --log-dir the log goes to a file, and no line is lost at the end.

From lesson 18 on `--log-dir DIR` sends the log to files in DIR, written by a thread of its own:
the threads that log only copy their line into memory. Lines logged before a SIGTERM or SIGINT must
all be in the files once the server has exited, also when clients were still connecting: the test
keeps 4 client threads opening, echoing and closing connections, signals the server in the middle
of that, and then reads the files. Every line must be whole, in the documented format; every
connection accepted must have its closed line (the server closes all at its end), and every client
that got its echo must have been logged as accepted.
"""

import os
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest

from harness import logs, net
from harness.server import describe_exit

CLIENT_THREADS = 4
CONNECTIONS_BEFORE_SIGNAL = 400  # echoed connections, all threads together
MAX_CONNECTIONS = 20000  # per thread: a bound, never reached in the time bound
LOAD_BOUND = 60.0  # seconds for the whole load
EXIT_BOUND = 10.0


def log_text(log_dir):
    """Every file in the log directory, in name order, as one text."""
    text = ""
    for name in sorted(os.listdir(log_dir)):
        with open(os.path.join(log_dir, name), "rb") as f:
            text += f.read().decode("utf-8", "replace")
    return text


def peers(lines, verb):
    return Counter(line.message.split()[1] for line in lines
                   if line.level == "INFO" and line.message.startswith(verb + " "))


def start_with_log_dir(start_server, tmp_path):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    return start_server(args=["--log-dir", str(log_dir)]), log_dir


@pytest.mark.feature("async_logging")
def test_the_log_goes_to_the_log_dir(start_server, tmp_path):
    server, log_dir = start_with_log_dir(start_server, tmp_path)
    names = []
    for i in range(3):
        with server.connect() as sock:
            names.append("%s:%d" % sock.getsockname())
            net.echo_round_trip(sock, f"client {i}\n".encode())
    # Written within the back end's flush interval (a few seconds), without any exit.
    deadline = net.Deadline(net.TIMEOUT)
    while not set(names) <= set(peers(logs.parse(log_text(log_dir)), "closed")):
        assert not deadline.expired(), (f"no `closed` line for each of {names} in {log_dir} "
                                        f"within {net.TIMEOUT:g} s:\n{log_text(log_dir)[-3000:]}")
        server.assert_alive("while its log was awaited")
        time.sleep(0.05)
    assert not logs.parse(server.stderr_text()), (
        f"log lines on stderr with --log-dir:\n{server.stderr_text(3000)}")


def churn(server, stop, echoed, errors):
    """A client thread: connect, echo a line, close, until `stop` or an error once it is set."""
    for i in range(MAX_CONNECTIONS):
        if stop.is_set():
            return
        try:
            with server.connect(timeout=5.0) as sock:
                name = "%s:%d" % sock.getsockname()
                net.echo_round_trip(sock, f"line {i}\n".encode(), timeout=5.0)
                echoed.append(name)
        except (OSError, AssertionError) as e:
            if not stop.is_set():
                errors.append(repr(e))
            return


@pytest.mark.feature("async_logging")
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_no_line_is_lost_when_a_signal_ends_the_server_under_load(start_server, tmp_path, signo):
    server, log_dir = start_with_log_dir(start_server, tmp_path)
    stop = threading.Event()
    echoed, errors = [], []
    threads = [threading.Thread(target=churn, args=(server, stop, echoed, errors), daemon=True)
               for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    deadline = net.Deadline(LOAD_BOUND)
    try:
        while len(echoed) < CONNECTIONS_BEFORE_SIGNAL and not errors and not deadline.expired():
            time.sleep(0.01)
        assert not errors, f"clients failed before the signal: {errors[:5]}"
        assert len(echoed) >= CONNECTIONS_BEFORE_SIGNAL, (
            f"only {len(echoed)} connections echoed in {LOAD_BOUND:g} s")
        # The clients are still connecting while the server goes down.
        code = server.terminate(signo, EXIT_BOUND)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10.0)
    assert code == 0, f"after {signo.name}: {describe_exit(code)}\n{server.output_report()}"

    text = log_text(log_dir)
    raw_lines = text.splitlines()
    assert text, f"nothing in {log_dir} after {len(echoed)} echoed connections"
    assert text.endswith("\n"), f"the log ends in the middle of a line: {text[-200:]!r}"
    cut = [line for line in raw_lines if not logs.LOG_LINE.match(line)]
    assert not cut, f"{len(cut)} lines not in the log format (cut or mixed), e.g. {cut[:3]}"
    lines = logs.parse(text)
    accepted, closed = peers(lines, "accepted"), peers(lines, "closed")
    missing_close = accepted - closed
    assert not missing_close, (f"{sum(accepted.values())} accepted lines, "
                               f"{sum(closed.values())} closed lines: no closed line for "
                               f"{sorted(missing_close)[:10]}")
    assert not closed - accepted, f"closed lines without an accepted line: {sorted(closed - accepted)[:10]}"
    unlogged = [name for name in echoed if name not in accepted]
    assert not unlogged, (f"{len(unlogged)} of {len(echoed)} echoed clients have no accepted line, "
                          f"e.g. {unlogged[:5]}")


@pytest.mark.feature("async_logging")
def test_a_log_dir_that_does_not_exist_is_an_error_exit_1(server_exe, tmp_path):
    missing = tmp_path / "no-such-dir"
    result = subprocess.run([server_exe, "--port", "0", "--log-dir", str(missing)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert result.returncode == 1, f"exit {result.returncode}\nstderr: {result.stderr!r}"
    assert str(missing) in result.stderr, f"the error does not name {missing}: {result.stderr!r}"
