"""Starting and stopping a lesson's server the way the lesson contract describes (COURSE.md).

The server's stdout and stderr go to files, never to pipes: a server prints a line per connection, and
a pipe that nobody drains would block it once the pipe buffer (64 KiB) is full, which would look like
a server bug. The ready line is found by polling the stdout file.
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
READY_LINE = re.compile(r"^listening on (?P<host>\S+):(?P<port>\d+)$", re.MULTILINE)


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


class ServerProcess:
    """One running server: .host, .port, .proc, and helpers to read its output and connect to it."""

    def __init__(self, exe, workdir, host="127.0.0.1", args=()):
        self.exe = exe
        self.workdir = str(workdir)
        self.host = host
        self.args = list(args)
        self.port = None
        self.proc = None
        self.stdout_path = os.path.join(self.workdir, "server.stdout")
        self.stderr_path = os.path.join(self.workdir, "server.stderr")

    @property
    def argv(self):
        return [self.exe, "--port", "0", "--host", self.host] + self.args

    def start(self):
        """Start the server and wait for `listening on HOST:PORT`; ServerStartError if it never comes."""
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # A new session: a Ctrl-C meant for pytest does not also hit the server, and the server
            # cannot signal our process group.
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=self.workdir, start_new_session=True)
        deadline = net.Deadline(READY_TIMEOUT)
        while True:
            m = READY_LINE.search(self.stdout_text())
            if m:
                self.port = int(m.group("port"))
                return self
            if self.proc.poll() is not None:
                self._fail_start(f"exited before printing its ready line ({describe_exit(self.proc.returncode)})")
            if deadline.expired():
                self._fail_start(f"printed no `listening on HOST:PORT` line within {READY_TIMEOUT:g} s")
            time.sleep(READY_POLL)

    def _fail_start(self, why):
        self.stop()
        raise ServerStartError(f"server {' '.join(self.argv)} {why}\n{self.output_report()}")

    def stdout_text(self):
        return _read_text(self.stdout_path)

    def stderr_text(self):
        return _read_text(self.stderr_path)

    def output_report(self):
        return (f"--- server stdout (last 2000 chars) ---\n{self.stdout_text()[-2000:]}"
                f"--- server stderr (last 4000 chars) ---\n{self.stderr_text()[-4000:]}")

    def assert_no_sanitizer_report(self):
        if SANITIZER_REPORT.search(self.stderr_text()):
            raise SanitizerReport(f"the server's sanitizer reported an error\n{self.output_report()}")

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, when):
        if not self.is_running():
            raise ServerDied(f"the server died {when} ({describe_exit(self.proc.returncode)})\n"
                             f"{self.output_report()}")

    def connect(self, timeout=net.TIMEOUT, nodelay=False):
        return net.connect(self.host, self.port, timeout, nodelay)

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


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
