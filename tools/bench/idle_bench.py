"""Idle connections: how fast a lesson's server accepts N connections, and how much memory it keeps
for each.

Run through tools/bench/idle-bench (it picks the interpreter). For each lesson: start its server
(port 0, with the soft RLIMIT_NOFILE raised to the hard limit), note its VmRSS, let the client
(tools/bench/idleconn.cpp) open N connections at once, and count the server's `accepted ...`
lines in its stdout file until there are N. Then VmRSS again (idle connections), one 4-byte echo
on every connection (each is really served), VmRSS once more, close everything, stop the server
by its PID. Loopback only; every wait is bounded.
"""

import argparse
import resource
import subprocess
import sys
import time

import benchlib as b


def parse_args():
    p = argparse.ArgumentParser(
        prog="idle-bench",
        description="Accept time and server memory per idle connection, for one or more lessons.")
    p.add_argument("--lesson", "--lessons", dest="lessons", required=True,
                   help="a lesson, or several comma-separated (e.g. 07 or 03,04,07)")
    p.add_argument("--connections", type=int, default=10000, help="connections to open (default 10000)")
    p.add_argument("--sources", type=int, default=0,
                   help="spread the connections over 127.0.0.2..127.0.0.(K+1) (default 0: only when "
                        "one address runs out of local ports)")
    p.add_argument("--timeout", type=float, default=30, help="bound on each wait, seconds (default 30)")
    a = p.parse_args()
    a.lessons = b.find_lessons(a.lessons)
    b.raise_fd_limit_for(a.connections, "connections")
    if not 1 <= a.connections or not 0 <= a.sources <= 250 or not 1 <= a.timeout <= 300:
        b.fail("--connections must be >= 1, --sources 0..250, --timeout 1..300")
    return a


class LineCounter:
    """Counts lines that start with a prefix in a growing file, reading only what is new."""

    def __init__(self, path, prefix):
        self.path, self.prefix = path, prefix.encode()
        self.offset, self.count, self.partial = 0, 0, b""

    def update(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()  # an unfinished last line waits for its end
        self.count += sum(1 for line in lines if line.startswith(self.prefix))
        return self.count


def client_line(client, prefix, timeout):
    """Waits for the client's line starting with `prefix`; returns its key=value fields."""
    def found():
        for line in client.stdout_text().splitlines():
            if line.startswith(prefix):
                return dict(item.split("=", 1) for item in line.split()[1:]) or {"": ""}
        return None if client.is_running() else {}
    fields = b.wait_until(found, timeout)
    if not fields:
        raise RuntimeError(f"the client did not say '{prefix}' (see {client.stdout_path}, {client.stderr_path})")
    return fields


# What client_line raises, and a client that died cannot take commands (OSError): a failed run, not
# the end of the benchmark.
CLIENT_ERRORS = (RuntimeError, OSError)


def run_lesson(lesson, server_path, idleconn, args):
    n = args.connections
    server = b.start_server(server_path, f"idle-{lesson.tag}", lesson.args)
    result = {"lesson": lesson.name, "error": None}
    with b.guarded_run(result, server, CLIENT_ERRORS) as stop_later:
        time.sleep(0.2)  # let it settle after printing its ready line
        result["rss_before"] = server.rss_bytes()
        accepted = LineCounter(server.stdout_path, "accepted ")
        overflows = b.tcp_counter("ListenOverflows")

        client = b.start_process([idleconn, "--port", server.port, "--connections", n,
                                  "--sources", args.sources, "--timeout", args.timeout,
                                  "--hold", 4 * args.timeout + 60],
                                 f"idle-{lesson.tag}-client", stdin=subprocess.PIPE)
        stop_later.append(client)
        start = float(client_line(client, "start ", args.timeout)["monotonic"])
        # Poll often (every millisecond) so that the time is the server's, not the poll's.
        done = b.wait_until(lambda: accepted.update() >= n or not server.is_running(), args.timeout, 0.001)
        result["accept_seconds"] = time.monotonic() - start if done and server.is_running() else None
        result["accepted"] = accepted.update()
        if overflows is not None:
            result["overflows"] = b.tcp_counter("ListenOverflows") - overflows
        connected = client_line(client, "connected ", args.timeout)
        result["connected"] = int(connected["ok"])
        result["connect_failed"] = int(connected["failed"])
        result["connect_seconds"] = float(connected["seconds"])
        result["sources"] = int(connected["sources"])
        server.assert_alive("while the client connected")
        time.sleep(0.2)
        result["rss_idle"] = server.rss_bytes()

        client.proc.stdin.write(b"echo\n")
        client.proc.stdin.flush()
        echoed = client_line(client, "echoed ", args.timeout + 10)
        result["echoed"] = int(echoed["ok"])
        result["echo_seconds"] = float(echoed["seconds"])
        result["rss_echoed"] = server.rss_bytes()

        client.proc.stdin.write(b"close\n")
        client.proc.stdin.flush()
        client_line(client, "closed", args.timeout)
        closed = LineCounter(server.stdout_path, "closed ")
        b.wait_until(lambda: closed.update() >= result["accepted"] or not server.is_running(), args.timeout)
        result["rss_closed"] = server.rss_bytes()
        if result["accepted"] < n or result["echoed"] < n:
            result["error"] = (f"{result['accepted']} of {n} accepted, {result['echoed']} echoed "
                               f"(see {server.stderr_path} and {client.stderr_path})")
    return result


def mib(n):
    return f"{n / 2**20:.1f} MiB" if n is not None else "-"


def per_conn(after, before, n):
    return f"{(after - before) / n:.0f}" if after is not None and before is not None else "-"


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    n = args.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    somaxconn = b.read_text("/proc/sys/net/core/somaxconn").strip()
    print(f"idle-bench: {', '.join(l.name for l in args.lessons)}; {n} connections over loopback; "
          f"open-file limit {soft} for the server and for the client; listen backlog cap (somaxconn) {somaxconn}; "
          f"{b.background_note()}")
    idleconn = b.build_tool("idleconn")
    servers = {l: b.build_lesson(l) for l in args.lessons}

    results = []
    for lesson in args.lessons:
        r = run_lesson(lesson, servers[lesson], idleconn, args)
        results.append(r)
        if r.get("accept_seconds") is not None:
            accept = f"accepted all {n} in {r['accept_seconds']:.3f} s"
        else:
            accept = f"accepted {r.get('accepted', 0)} of {n} (not all within {args.timeout:g} s)"
        sources = r.get("sources")
        origin = f"from 127.0.0.2..127.0.0.{sources + 1}" if sources else "from 127.0.0.1"
        print(f"{lesson.name}: {accept}; the client's connects ({origin}) took "
              f"{r.get('connect_seconds', 0):.3f} s: {r.get('connected', '-')} connected, "
              f"{r.get('connect_failed', '-')} failed; one echo on each: {r.get('echoed', '-')} ok "
              f"in {r.get('echo_seconds', 0):.3f} s")
        print(f"  server VmRSS: {mib(r.get('rss_before'))} before, {mib(r.get('rss_idle'))} with the idle "
              f"connections ({per_conn(r.get('rss_idle'), r.get('rss_before'), n)} bytes each), "
              f"{mib(r.get('rss_echoed'))} after one echo each, {mib(r.get('rss_closed'))} after they closed")
        if r.get("overflows"):
            print(f"  the listen queue overflowed {r['overflows']} times (the server accepted more slowly than "
                  f"connections came): each of those connections waited for a retry after about a second")
        if r["error"]:
            print(f"  FAILED: {r['error']}")

    print()
    print(f"Idle connections: {n} opened at once over loopback")
    head = f"{'lesson':<18} {'accepted':>9} {'accept s':>9} {'connect s':>10} {'RSS before':>11} {'RSS idle':>10} " \
           f"{'B/conn':>7} {'after echo':>11} {'B/conn':>7}"
    print(head)
    print("-" * len(head))
    for r in results:
        accept_s = f"{r['accept_seconds']:.3f}" if r.get("accept_seconds") is not None else "-"
        connect_s = f"{r['connect_seconds']:.3f}" if r.get("connect_seconds") is not None else "-"
        print(f"{r['lesson']:<18} {r.get('accepted', 0):>9} {accept_s:>9} {connect_s:>10} {mib(r.get('rss_before')):>11} "
              f"{mib(r.get('rss_idle')):>10} {per_conn(r.get('rss_idle'), r.get('rss_before'), n):>7} "
              f"{mib(r.get('rss_echoed')):>11} {per_conn(r.get('rss_echoed'), r.get('rss_before'), n):>7}")
    print()
    print("Notes: 'accept s' runs from the client's first connect() to the moment the server's stdout "
          "file holds N 'accepted' lines, so it includes printing one line per connection (a write() "
          "each); 'connect s' is the client's own time to see every connect() complete. When the two are "
          "close, the server kept up with the client, and the client's speed is what was measured. B/conn is the growth of the server's VmRSS divided by N: user-space memory only; the "
          "kernel's socket structures are not in it. The client and server share the machine's cores.")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
