"""Starting and stopping a lesson's server the way the lesson contract (CONTRIBUTING.md) describes.

The server's stdout and stderr go to files, never to pipes: a server prints a line per connection, and
a pipe that nobody drains would block it once the pipe buffer (64 KiB) is full, which would look like
a server bug. The ready line is found by polling the stdout file. A server spinning on a failing
accept() may write a line per attempt, megabytes a second, so failure reports read only the tail of
these files and the sanitizer check scans stderr in pieces.

The suite also watches the server from outside through /proc: its resident memory (VmRSS) and the CPU
time it has used (utime + stime).

The benchmarks (tools/bench) start their servers, their clients and iperf3 with this code too, so
that there is one way of running a process here: LoggedProcess for any program, ServerProcess for a
lesson's server.
"""

import os
import re
import resource
import signal
import subprocess
import time

from . import net

READY_TIMEOUT = 15.0  # from exec to the ready line; generous for sanitizer builds on a busy machine
READY_POLL = 0.02
STOP_TIMEOUT = 5.0  # after SIGTERM, before SIGKILL
TEXT_LIMIT = 1 << 20  # bytes of a server's output read into memory at most
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of utime and stime in /proc/PID/stat
READY_LINE = re.compile(r"^listening on (?P<host>\S+):(?P<port>\d+)$", re.MULTILINE)

# Appended to ASAN_OPTIONS for every server the suite starts (see server_environment).
ASAN_QUARANTINE = "quarantine_size_mb=8"


class ServerStartError(Exception):
    """The server never printed its ready line. Not an AssertionError: no limitation excuses it."""


class ServerDied(Exception):
    """The server exited during a test. Not an AssertionError: no limitation excuses a crash."""


class SanitizerReport(Exception):
    """A sanitizer build of the server reported an error. Not excused by any limitation either."""


# What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and ThreadSanitizer print. ASan and
# UBSan (built with -fno-sanitize-recover) also stop the server, but TSan goes on after a report, and
# a server ended by SIGTERM before lesson 6 never reaches the exit code TSan would set: only its
# stderr tells.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error: ")


def server_environment(environ=None):
    """The environment a server runs in: ours, with ASAN_OPTIONS extended by ASAN_QUARANTINE.

    AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) to catch use after free,
    so in an ASan build every buffer freed and allocated again shows up as resident memory that only
    grows. The slow-reader test measures how much the server's memory grows; with an 8 MiB quarantine
    that growth is the server's own buffering, not the sanitizer's. Appended, so that it wins over a
    quarantine size given in the caller's ASAN_OPTIONS, while every other option given there stays.
    Other builds ignore the variable.
    """
    env = dict(os.environ if environ is None else environ)
    existing = env.get("ASAN_OPTIONS", "").strip(": ")
    env["ASAN_OPTIONS"] = f"{existing}:{ASAN_QUARANTINE}" if existing else ASAN_QUARANTINE
    return env


def raise_fd_limit(target=8192):
    """Raise this process's soft RLIMIT_NOFILE towards `target` (never lowering it).

    The many-clients test holds 1000+ sockets on our side, and the server needs as many on its
    side: it inherits this limit from us.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def describe_exit(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class LoggedProcess:
    """A program whose stdout and stderr go to files in `workdir`, named after `name`; stopped by its pid.

    stdin: what Popen takes (DEVNULL by default; PIPE for a program driven through its stdin).
    """

    def __init__(self, argv, workdir, name, stdin=subprocess.DEVNULL):
        self.argv = [str(arg) for arg in argv]
        self.workdir = str(workdir)
        self.name = name
        self.stdin = stdin
        self.proc = None
        self.stdout_path = os.path.join(self.workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(self.workdir, f"{name}.stderr")

    def launch(self):
        """Start the program (without waiting for anything); returns self."""
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # A new session: a Ctrl-C meant for us does not also hit the program, and the program
            # cannot signal our process group. Whoever starts it stops it (stop()).
            self.proc = subprocess.Popen(self.argv, stdin=self.stdin, stdout=out, stderr=err,
                                         cwd=self.workdir, env=server_environment(),
                                         start_new_session=True)
        return self

    def stdout_text(self, limit=TEXT_LIMIT):
        """The program's stdout so far (its last `limit` bytes if it is longer; None: all of it)."""
        return read_text(self.stdout_path, limit)

    def stderr_text(self, limit=TEXT_LIMIT):
        """The program's stderr so far (its last `limit` bytes if it is longer; None: all of it)."""
        return read_text(self.stderr_path, limit)

    def output_report(self):
        return (f"--- {self.name} stdout (last 2000 bytes) ---\n{self.stdout_text(2000)}"
                f"--- {self.name} stderr (last 4000 bytes) ---\n{self.stderr_text(4000)}")

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, up to STOP_TIMEOUT seconds' grace, then SIGKILL; the process is always reaped.

        Only our own child is signalled, by its pid, never a process group or a name.
        """
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


class ServerProcess(LoggedProcess):
    """One running server: .host, .port, .proc, and helpers to read its output and connect to it."""

    def __init__(self, exe, workdir, host="127.0.0.1", args=(), nofile=None, name="server"):
        """nofile: a soft RLIMIT_NOFILE for this server only (the fd-exhaustion test uses 64).

        host None: no --host, so the server listens on its default address, which its ready line
        names and .host then holds. name: the server's output files are <workdir>/<name>.stdout and
        <name>.stderr.
        """
        host_args = [] if host is None else ["--host", host]
        super().__init__([exe, "--port", "0", *host_args, *args], workdir, name)
        self.exe = exe
        self.host = host
        self.args = list(args)
        self.nofile = nofile
        self.port = None
        self.exit_requested = False  # set by terminate(): the test ended the server on purpose

    def start(self):
        """Start the server and wait for `listening on HOST:PORT`; ServerStartError if it never comes."""
        self.launch()
        try:
            if self.nofile is not None:
                self._lower_fd_limit()
            deadline = net.Deadline(READY_TIMEOUT)
            while True:
                m = READY_LINE.search(self.stdout_text())
                if m:
                    self.port = int(m.group("port"))
                    if self.host is None:
                        self.host = m.group("host")
                    return self
                if self.proc.poll() is not None:
                    self._fail_start(f"exited before printing its ready line ({describe_exit(self.proc.returncode)})")
                if deadline.expired():
                    self._fail_start(f"printed no `listening on HOST:PORT` line within {READY_TIMEOUT:g} s")
                time.sleep(READY_POLL)
        except BaseException:
            # Nobody holds this server yet, and in its own session a Ctrl-C does not reach it:
            # whatever ends the wait (KeyboardInterrupt included) must stop it here.
            self.stop()
            raise

    def _lower_fd_limit(self):
        """Lower the running server's soft RLIMIT_NOFILE to self.nofile (prlimit(2) on its pid).

        Done from outside right after exec rather than in a preexec_fn, which Python documents as
        unsafe in a process with threads (the suite has some). No client connects before the ready
        line, so the server meets the lower limit with every connection it accepts.
        """
        try:
            _, hard = resource.prlimit(self.proc.pid, resource.RLIMIT_NOFILE)
            resource.prlimit(self.proc.pid, resource.RLIMIT_NOFILE, (self.nofile, hard))
        except ProcessLookupError:
            pass  # it exited already; start() reports that with its output

    def _fail_start(self, why):
        self.stop()
        raise ServerStartError(f"server {' '.join(self.argv)} {why}\n{self.output_report()}")

    def assert_no_sanitizer_report(self):
        found = _search_file(self.stderr_path, SANITIZER_REPORT)
        if found is not None:
            offset, text = found
            raise SanitizerReport(f"the server's sanitizer reported an error ({text!r} at byte {offset} "
                                  f"of its stderr)\n{self.output_report()}")

    def _proc_file(self, name):
        """/proc/PID/<name> of the server; ServerDied if the server is gone."""
        try:
            with open(f"/proc/{self.proc.pid}/{name}") as f:
                return f.read()
        except (FileNotFoundError, ProcessLookupError):
            self.assert_alive(f"(no /proc/{self.proc.pid}/{name})")
            raise

    def rss_bytes(self):
        """The server's resident memory (VmRSS in /proc/PID/status), all threads together."""
        for line in self._proc_file("status").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB, meaning KiB
        # A process that has exited but is not reaped yet (a zombie) has no memory any more.
        raise ServerDied(f"the server has no VmRSS: it has exited\n{self.output_report()}")

    def cpu_seconds(self):
        """CPU time the server has used so far: utime + stime of /proc/PID/stat, all threads."""
        stat = self._proc_file("stat")
        # Fields after the command name, which is in parentheses and may contain anything.
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        return (utime + stime) / CLOCK_TICKS

    def assert_alive(self, when):
        if not self.is_running():
            raise ServerDied(f"the server died {when} ({describe_exit(self.proc.returncode)})\n"
                             f"{self.output_report()}")

    def connect(self, timeout=net.TIMEOUT, nodelay=False):
        return net.connect(self.host, self.port, timeout, nodelay)

    def terminate(self, signo, timeout):
        """Send signo and wait up to `timeout` seconds for the server to exit; its exit code.

        For tests of the server's own shutdown: the fixture then does not count the exit as a death.
        AssertionError (the server did not shut down) if it is still running after `timeout`.
        """
        self.exit_requested = True
        self.proc.send_signal(signo)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {timeout:g} s of "
                                 f"{signal.Signals(signo).name}\n{self.output_report()}") from None


def read_text(path, limit=None):
    """The file's text ("" if there is no such file), or only its last `limit` bytes when it is longer.

    limit None reads the whole file, and is the only way to read /proc files, which cannot seek
    from their end.
    """
    try:
        with open(path, "rb") as f:
            if limit is not None:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _search_file(path, pattern, piece=1 << 20, overlap=256):
    """The first match of a regex in the file, read a piece at a time: (offset, text), or None.

    Pieces overlap by `overlap` bytes, so that a match shorter than that is not cut in two.
    """
    binary = re.compile(pattern.pattern.encode())
    try:
        with open(path, "rb") as f:
            start = 0  # file offset of buf[0]
            buf = b""
            while True:
                data = f.read(piece)
                if not data:
                    return None
                buf += data
                m = binary.search(buf)
                if m:
                    return start + m.start(), m.group().decode("utf-8", "replace")
                keep = min(overlap, len(buf))
                start += len(buf) - keep
                buf = buf[len(buf) - keep:]
    except FileNotFoundError:
        return None
