"""What the benchmark runners share: finding and building lessons, and the processes they run.
Python standard library only.

Processes (lesson servers, the clients, iperf3) are started, watched and stopped by the client
suite's harness (tools/client_suite/harness/server.py), the one copy of that code: output to files,
the `listening on HOST:PORT` ready line, VmRSS and CPU time from /proc, stop by PID.
"""

import contextlib
import os
import resource
import socket
import statistics
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


def program_name():
    return Path(sys.argv[0]).stem.replace("_", "-")  # echo_bench.py -> echo-bench, its command


def fail(message):
    print(f"{program_name()}: {message}", file=sys.stderr)
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


def find_lessons(spec, error=fail):
    """'03,04,07' (or full names, '03_epoll') -> the targets, in the order given. A lesson may carry
    server arguments after a colon: '10,13:--threads 1,13:--threads 2'. A spec that names no lesson
    goes to `error` (fail, or an ArgumentParser's error for a usage error)."""
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
            error(f"no single lesson matches {item!r} (lessons: {names})")
        found.append(Target(matches[0], tuple(server_args.split())))
    if not found:
        error("no lessons given")
    return found


def find_library_lessons(spec, header, needed, missing, error):
    """find_lessons(spec, error) for a benchmark that runs no server, only a program built against each
    lesson's src/: a lesson takes no server arguments, and its src/`header` must hold every string of
    `needed`, else error(f"NN_name has no {missing}")."""
    lessons = find_lessons(spec, error)
    for lesson in lessons:
        if lesson.args:
            error(f"{lesson.name}: no server runs here, so a lesson takes no arguments")
        path = lesson.path / "src" / header
        text = path.read_text() if path.exists() else ""
        if not all(string in text for string in needed):
            error(f"{lesson.path.name} has no {missing}")
    return lessons


def cmake_build(source, build_dir, target, log_name, defines=()):
    """Configures once (Release, and `defines`: 'NAME=VALUE' cache entries) and builds `target`; an
    up-to-date build is a quick no-op, and a changed source (a lesson still being written) is
    rebuilt."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"build-{log_name}.log"
    cache = build_dir / "CMakeCache.txt"
    wanted = ["CMAKE_BUILD_TYPE=Release", *defines]
    entries = set()  # the cache's NAME=VALUE, without the :TYPE
    if cache.exists():
        for line in cache.read_text().splitlines():
            name, colon, rest = line.partition(":")
            if colon and "=" in rest and not line.startswith(("#", "//")):
                entries.add(f"{name}={rest.partition('=')[2]}")
    steps = []
    if not all(entry in entries for entry in wanted):
        steps.append(["cmake", "-S", str(source), "-B", str(build_dir), *(f"-D{entry}" for entry in wanted)])
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


def build_against(name, lesson):
    """Builds the program in tools/bench/NAME against the lesson's own src/ (its CMakeLists.txt takes
    LESSON_DIR) into build-bench/NAME-NN; returns its path."""
    build_dir = BUILD / f"{name}-{lesson.path.name[:2]}"
    cmake_build(Path(__file__).resolve().parent / name, build_dir, name, f"{name}-{lesson.path.name}",
                defines=[f"LESSON_DIR={lesson.path}"])
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


@contextlib.contextmanager
def guarded_run(result, server, also=()):
    """The with-block of one run of a lesson's server, which ends with the processes the block puts in
    the list it is given (a client) stopped, and then the server, by their PIDs, however it ends. A
    ServerDied in the block becomes result["error"], one line with the server's exit status (not the
    output report the exception carries: the server's files hold it); an exception of a type in `also`
    becomes it too, as its text. Any other goes on up."""
    stop_later = []
    try:
        yield stop_later
    except ServerDied:
        server.stop()  # reaps it, so that its exit status is known
        result["error"] = (f"the server died ({describe_exit(server.proc.returncode)}; see "
                           f"{server.stdout_path}, {server.stderr_path})")
    except also as e:
        result["error"] = str(e)
    finally:
        for process in stop_later:
            process.stop()
        server.stop()


FD_MARGIN = 100  # descriptors a process needs besides its connections: stdio, epoll, listener, ...


def raise_fd_limit_for(connections, what, error=fail):
    """Raises the soft limit on open files to the hard one, for the server and the client, which
    inherit it (each is its own process with its own descriptor table, so each gets the whole limit).
    Before that, a hard limit too low for `connections` in each (`what` names them) goes to `error`
    (fail, or an ArgumentParser's error for a usage error)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and connections > hard - FD_MARGIN:
        error(f"at most {hard - FD_MARGIN} {what} here: the hard limit on open files is {hard}, and the server "
              f"and the client each need one descriptor per connection and a few more")
    raise_fd_limit(hard)


def result_fields(output):
    """The key=value fields of a client's machine-readable last line, `result key=value ...`
    ({} when it printed none), as strings."""
    fields = {}
    for line in output.splitlines():
        if line.startswith("result "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
    return fields


def run_program(args, timeout):
    """Runs a program to its end, or for at most `timeout` seconds, with its output captured.
    Returns its result_fields() and an error: None when it exited 0, else one line saying why not
    (its last line on stderr, usually)."""
    name = Path(str(args[0])).name
    try:
        done = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}, f"{name} did not finish within {timeout:.0f} s"
    why = [line for line in done.stderr.splitlines() if line.strip()]
    error = None if done.returncode == 0 else why[-1] if why else f"{name}: {describe_exit(done.returncode)}"
    return result_fields(done.stdout), error


@dataclass
class ClientRun:
    """What run_client() saw: the client's result fields, the server's CPU use, and what failed."""
    fields: dict  # the client's `result` line (result_fields); {} if it printed none
    server_cpu: float  # CPU time the server used per second of the run: 1.0 is one core, busy
    error: str  # None when all went well; else one line saying what failed
    server_died: bool
    server: ServerProcess  # stopped by now; its output stays in its files


def run_client(target, server_path, name, client_args, timeout):
    """One measurement: starts the target's server fresh (start_server, logs named `name`), runs a
    client (client_args, then --port and the server's port) to the end or for at most `timeout`
    seconds, with its output captured, and stops the server by its PID (also when we are
    interrupted: the server runs in its own session)."""
    server = start_server(server_path, name, target.args)
    try:
        cpu_before = server.cpu_seconds()
        started = time.monotonic()
        fields, client_error = run_program([*client_args, "--port", server.port], timeout)
        elapsed = time.monotonic() - started
        # Still readable if the server has died: it is not reaped until is_running() looks.
        cpu_after = server.cpu_seconds()
        died = not server.is_running()
    finally:
        server.stop()
    error = f"the server died during the run (see {server.stderr_path})" if died else client_error
    return ClientRun(fields, (cpu_after - cpu_before) / elapsed, error, died, server)


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


def machine_note(sharers):
    """The line that opens a run: the cores, who shares them (`sharers`, besides everything else on
    the machine), and how busy they are with other work."""
    return (f"{program_name()}: {os.cpu_count() or 1} cores, shared by {sharers} and everything else on "
            f"the machine (nothing is pinned); {background_note()}")


def turn_order(lessons, rep):
    """The lessons in the order repetition `rep` runs them: each repetition starts with the next
    lesson, so that none always goes first."""
    k = rep % len(lessons)
    return lessons[k:] + lessons[:k]


def finish(results, logs=True):
    """The end of a run, after its table: says how many runs failed (the lists of run dicts, each with
    an "error", in results' values) and where their logs are. Returns the exit status: 1 if any failed."""
    failures = sum(1 for runs in results.values() for r in runs if r["error"])
    if failures:
        print(f"{program_name()}: {failures} runs FAILED" + (f" (logs in {LOGS})" if logs else ""))
    return 1 if failures else 0


def parse_list(text, kind, low, high, error=fail):
    values = []
    for item in text.split(","):
        try:
            value = kind(item)
        except ValueError:
            error(f"not a number: {item!r}")
        if not low <= value <= high:
            error(f"{value} is out of range ({low}..{high})")
        values.append(value)
    return values


def good_values(runs, key):
    """The `key` figures of the runs (dicts with an "error") that went well."""
    return [r[key] for r in runs if r[key] is not None and not r["error"]]


def median(values):
    return statistics.median(values) if values else None


def ratio(value, base):
    """A table's xNN column: `value` over the first lesson's."""
    return f"{value / base:.2f}" if base else "-"


def print_spread(cells, repeat):
    """The line under a table of medians that says how far apart the runs of a cell were: `cells`
    holds each cell's figures, one per run. Nothing when no cell has two figures to compare."""
    spreads = [(max(v) - min(v)) / statistics.median(v) for v in cells if len(v) > 1 and statistics.median(v)]
    if spreads:
        print(f"Spread between the {repeat} runs of a cell ((max - min) / median): "
              f"median {100 * statistics.median(spreads):.0f}%, largest {100 * max(spreads):.0f}%")


def size_label(n):
    return f"{n // 1024} KiB" if n % 1024 == 0 and n >= 1024 else f"{n} B"
