"""Rolling log files: with --log-roll-size BYTES the log starts a new file before one passes BYTES.

From lesson 19 on each log file has a name of its own (base, start time, host, pid, count) and is
never renamed. The test serves clients with a small roll size, ends the server with SIGTERM, and
reads the files: several of them, none past the size, each ending with a whole line; together every
line once, each thread's lines in time order, and every connection accepted and closed.
"""

import os
import re
import signal
from collections import Counter

import pytest

from harness import logs, net
from harness.server import describe_exit
from test_usage import describe, has_usage_line, run

ROLL_SIZE = 4096
CLIENTS = 150  # two lines of about 100 bytes each: some 7 files
NAME = re.compile(r"^server\.\d{8}-\d{6}\..+\.(?P<pid>\d+)\.\d{6}\.log$")


@pytest.mark.feature("log_rolling")
def test_files_roll_at_the_size_and_hold_every_line_once_in_order(start_server, tmp_path):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    server = start_server(args=["--log-dir", str(log_dir), "--log-roll-size", str(ROLL_SIZE)])
    names = []
    for i in range(CLIENTS):
        with server.connect() as sock:
            names.append("%s:%d" % sock.getsockname())
            net.echo_round_trip(sock, f"client {i}\n".encode())
    code = server.terminate(signal.SIGTERM, 10.0)
    assert code == 0, f"after SIGTERM: {describe_exit(code)}\n{server.output_report()}"

    files = sorted(os.listdir(log_dir))
    assert len(files) >= 2 * CLIENTS * 90 // ROLL_SIZE, f"only {len(files)} files: {files}"
    text = ""
    for name in files:
        m = NAME.match(name)
        assert m, f"{name}: not BASE.YYYYmmdd-HHMMSS.HOST.PID.NNNNNN.log"
        assert int(m["pid"]) == server.proc.pid, name
        with open(log_dir / name, "rb") as f:
            content = f.read().decode("utf-8", "replace")
        assert len(content.encode()) <= ROLL_SIZE, f"{name}: {len(content)} bytes > {ROLL_SIZE}"
        assert content.endswith("\n"), f"{name} ends in the middle of a line: {content[-100:]!r}"
        text += content
    raw = text.splitlines()
    cut = [line for line in raw if not logs.LOG_LINE.match(line)]
    assert not cut, f"lines not in the log format: {cut[:3]}"
    repeated = [line for line, n in Counter(raw).items() if n > 1]
    assert not repeated, f"lines in more than one place: {repeated[:3]}"
    lines = logs.parse(text)
    last = {}
    for line in lines:  # a thread's lines are appended in the order it logged them
        assert line.time >= last.get(line.tid, ""), f"out of order in thread {line.tid}: {line}"
        last[line.tid] = line.time
    for verb in ("accepted", "closed"):
        logged = {line.message.split()[1] for line in lines
                  if line.level == "INFO" and line.message.startswith(verb + " ")}
        missing = [name for name in names if name not in logged]
        assert not missing, f"no `{verb}` line for {len(missing)} clients, e.g. {missing[:5]}"


@pytest.mark.feature("log_rolling")
@pytest.mark.parametrize("size", ["4095", "1000000000", "4k"])
def test_a_bad_roll_size_is_a_usage_error(server_exe, size):
    result = run(server_exe, "--port", "0", "--log-roll-size", size)
    assert result.returncode == 2, describe(result)
    assert has_usage_line(result.stderr), describe(result)
