"""What the benchmark runners share: finding and building lessons, and the processes they run.
Python standard library only.

Processes (lesson servers, the clients, iperf3) are started, watched and stopped by the client
suite's harness (tools/client_suite/harness/server.py), the one copy of that code: output to files,
the `listening on HOST:PORT` ready line, VmRSS and CPU time from /proc, stop by PID.
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build-bench"  # gitignored by the build-*/ pattern
LOGS = BUILD / "logs"

sys.path.insert(0, str(ROOT / "tools" / "client_suite"))  # the harness package lives there
# Re-exported for the runners: they use the harness through this module only.
from harness.server import (  # noqa: E402,F401
    LoggedProcess, ServerDied, ServerProcess, ServerStartError, describe_exit, raise_fd_limit,
    read_text)


def fail(message):
    prog = Path(sys.argv[0]).stem.replace("_", "-")  # echo_bench.py -> echo-bench, its command
    print(f"{prog}: {message}", file=sys.stderr)
    sys.exit(1)


@dataclass(frozen=True)
class Target:
    """A lesson's server and the arguments it runs with: lesson 13 with --threads 0, 1 and 2 are
    three targets of one build."""
    path: Path  # the lesson directory
    args: tuple = ()

    @property
    def name(self):
        return " ".join((self.path.name, *self.args))

    @property
    def label(self):  # for a table's column: the lesson's number, and its arguments if any
        return " ".join((self.path.name[:2], *self.args)) if self.args else self.path.name

    @property
    def tag(self):  # for file names
        return "_".join((self.path.name, *self.args)).replace("-", "")


def find_lessons(spec):
    """'03,04,07' (or full names, '03_epoll') -> the targets, in the order given. A lesson may carry
    server arguments after a colon: '10,13:--threads 1,13:--threads 2'."""
    found = []
    for item in spec.split(","):
        item, _, server_args = item.strip().partition(":")
        if not item:
            continue
        if item.isdigit():
            item = f"{int(item):02d}"
        matches = sorted(p for p in (ROOT / "lessons").glob(f"{item}*") if p.is_dir())
        if len(matches) != 1:
            names = ", ".join(p.name for p in sorted((ROOT / "lessons").iterdir()))
            fail(f"no single lesson matches {item!r} (lessons: {names})")
        found.append(Target(matches[0], tuple(server_args.split())))
    if not found:
        fail("no lessons given")
    return found


def cmake_build(source, build_dir, target, log_name):
    """Configures once (Release) and builds `target`; an up-to-date build is a quick no-op, and a
    changed source (a lesson still being written) is rebuilt."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"build-{log_name}.log"
    cache = build_dir / "CMakeCache.txt"
    steps = []
    if not cache.exists() or "CMAKE_BUILD_TYPE:STRING=Release" not in cache.read_text():
        steps.append(["cmake", "-S", str(source), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"])
    steps.append(["cmake", "--build", str(build_dir), "--target", target, "-j", str(os.cpu_count() or 2)])
    with open(log, "w") as out:
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                tail = log.read_text().splitlines()[-15:]
                fail(f"building {log_name} failed ({log}):\n" + "\n".join(tail))


def build_lesson(target):
    """Builds the lesson's server in Release into build-bench/NN_name; returns its path."""
    build_dir = BUILD / target.path.name
    cmake_build(target.path, build_dir, "server", target.path.name)
    return build_dir / "server"


def build_tool(name):
    """Builds one of the clients in tools/bench into build-bench/tools; returns its path."""
    build_dir = BUILD / "tools"
    cmake_build(Path(__file__).resolve().parent, build_dir, name, name)
    return build_dir / name


def wait_until(predicate, timeout, interval=0.01):
    """Polls predicate() until it is true (returns its value) or `timeout` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def start_process(args, name, stdin=subprocess.DEVNULL):
    """Starts a program with its stdout and stderr in LOGS/<name>.stdout and .stderr (never pipes: a
    pipe that nobody drains blocks the writer). Stop it with .stop(), which signals its PID."""
    LOGS.mkdir(parents=True, exist_ok=True)
    return LoggedProcess(args, LOGS, name, stdin).launch()


def start_server(server, name, args=()):
    """Starts a lesson's server on a kernel-chosen port, with the lesson's own default address (no
    --host) and `args`, and waits for its ready line. Returns the ServerProcess: .port, .stop(),
    .rss_bytes(), .cpu_seconds(); its output is in LOGS/<name>.stdout and .stderr."""
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        return ServerProcess(server, LOGS, host=None, name=name, args=args).start()
    except ServerStartError as e:  # it has been stopped already
        fail(f"{name}: {e}")


def free_port():
    """A port nobody listens on right now (the kernel's choice for a socket bound to port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port, host="127.0.0.1"):
    """Whether something listens on host:port (IPv4), from /proc/net/tcp: no connection is made."""
    wanted = "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), "little"), port)
    for line in read_text("/proc/net/tcp").splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # 0A: TCP_LISTEN
            return True
    return False


def tcp_counter(name):
    """A system-wide TCP counter from /proc/net/netstat (e.g. ListenOverflows: connections the
    kernel dropped because a listen queue was full; the client's retry comes a second later)."""
    lines = read_text("/proc/net/netstat").splitlines()
    for keys, values in zip(lines[::2], lines[1::2]):
        if keys.startswith("TcpExt:"):
            table = dict(zip(keys.split()[1:], values.split()[1:]))
            return int(table[name]) if name in table else None
    return None


def background_note(seconds=1.0):
    """How busy the cores are without us: sampled from /proc/stat over `seconds` while the
    benchmark runs nothing. Anything well above 0% is other work (a build, a test run) that will
    share the cores with the benchmark and make its figures noisier."""
    def sample():
        fields = [int(x) for x in read_text("/proc/stat").split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])  # user..steal; guest is inside user
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    share = (busy1 - busy0) / max(total1 - total0, 1)
    warning = ": other work is running, expect noisier figures" if share > 0.1 else ""
    return f"the cores were {100 * share:.0f}% busy with other work{warning}"


def parse_list(text, kind, low, high):
    values = []
    for item in text.split(","):
        try:
            value = kind(item)
        except ValueError:
            fail(f"not a number: {item!r}")
        if not low <= value <= high:
            fail(f"{value} is out of range ({low}..{high})")
        values.append(value)
    return values


def size_label(n):
    return f"{n // 1024} KiB" if n % 1024 == 0 and n >= 1024 else f"{n} B"
