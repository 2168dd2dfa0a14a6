"""Idle timeout: how late a server with --idle-timeout S closes silent connections, that it leaves the
talking ones alone, and what its timer costs while nothing happens.

Run through tools/bench/idle-timeout-bench (it picks the interpreter). For each lesson and each
--threads value, with the soft RLIMIT_NOFILE raised to the hard limit, three runs, each with a fresh
server (port 0, --workers 0: the loop echoes; stopped by its PID):

1. Timeout: the server with --idle-timeout S. The client (tools/bench/idletimeout.cpp) opens N idle
   and A active connections; each sends one message and reads its echo. The idle ones then fall
   silent, and the client times each one's close by the server from its last byte sent. The active
   ones send a message every --interval seconds until every idle one is closed, and S + 1 seconds
   more; then they fall silent too, and are timed the same way. Once the server has printed a
   `closed` line for every `accepted` one, its CPU time (/proc/PID/stat) over a quiet window with no
   connection at all: its wheel keeps ticking, and should cost next to nothing.
2. Hold: the server with --idle-timeout H (60 by default, longer than the run). tools/bench/idleconn
   opens N connections, the runner waits for N `accepted` lines, and measures the server's CPU time
   over a quiet window with the N connections open and silent, and its VmRSS before and after they
   came. Then one echo on each connection: none may have been closed.
3. Baseline: the same without --idle-timeout, for the CPU time and the VmRSS without a wheel.

Loopback only; every wait is bounded.
"""

import argparse
import os
import subprocess
import sys
import time

import benchlib as b
# The same line counting and client dialogue as idle-bench, whose client the hold runs use.
from idle_bench import CLIENT_ERRORS, LineCounter, client_line

QUIET_CPU_LIMIT = 0.05  # share of a core: more while nothing happens means the server is busy for nothing
SETTLE = 0.5  # seconds between the last event and a quiet window
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of utime and stime in /proc/PID/stat


def parse_args():
    p = argparse.ArgumentParser(
        prog="idle-timeout-bench",
        description="How late --idle-timeout closes silent connections, whether it spares the talking ones, "
                    "and the server's CPU time and memory while nothing happens.")
    p.add_argument("--lessons", required=True,
                   help="comma-separated lessons with --idle-timeout (16 on), e.g. 16; server arguments after a "
                        "colon come after the benchmark's own (--threads, --workers 0, --idle-timeout), and win")
    p.add_argument("--threads", default="0,2",
                   help="the server's --threads (I/O threads), comma-separated: a run for each (default 0,2)")
    p.add_argument("--idle-timeout", type=int, default=2, help="the server's --idle-timeout S, seconds (default 2)")
    p.add_argument("--idle", type=int, default=10000, help="idle connections (default 10000)")
    p.add_argument("--active", type=int, default=100, help="active connections (default 100)")
    p.add_argument("--interval", type=float, default=0.25,
                   help="seconds between two messages of an active connection (default 0.25)")
    p.add_argument("--margin", type=float, default=0.5,
                   help="lateness allowed past S + 1 s for a close, seconds (default 0.5)")
    p.add_argument("--quiet-seconds", type=float, default=5,
                   help="length of each window in which the server's CPU time is measured (default 5)")
    p.add_argument("--hold-timeout", type=int, default=60,
                   help="the server's --idle-timeout in the hold run, longer than that run (default 60)")
    p.add_argument("--timeout", type=float, default=30, help="bound on each wait, seconds (default 30)")
    a = p.parse_args()
    a.lessons = b.find_lessons(a.lessons, p.error)
    a.threads = b.parse_list(a.threads, int, 0, 16, p.error)
    if not (1 <= a.idle_timeout <= 30 and 1 <= a.idle <= 1000000 and 0 <= a.active <= 10000
            and 0.05 <= a.interval <= 10 and 0 <= a.margin <= 30 and 1 <= a.quiet_seconds <= 60
            and 1 <= a.timeout <= 300):
        p.error("--idle-timeout must be 1..30, --idle 1..1000000, --active 0..10000, "
                "--interval 0.05..10, --margin 0..30, --quiet-seconds 1..60, --timeout 1..300")
    if a.interval * 2 > a.idle_timeout:
        p.error(f"--interval {a.interval:g} is too long for --idle-timeout {a.idle_timeout}: an active "
                f"connection must send well within the timeout (at most half of it)")
    if not 2 * a.quiet_seconds + 20 <= a.hold_timeout <= 86400:
        p.error(f"--hold-timeout must be 2 x --quiet-seconds + 20 = {2 * a.quiet_seconds + 20:g} or more (the "
                f"connections of the hold run must stay open for the whole of it), and at most 86400")
    b.raise_fd_limit_for(a.idle + a.active, "connections (--idle + --active)", p.error)
    return a


def targets_of(args):
    """Each lesson with each --threads value: the server's arguments, the lesson's own last (the runs
    put --idle-timeout first), so that they win."""
    return [b.Target(lesson.path, ("--threads", str(t), "--workers", "0", *lesson.args))
            for lesson in args.lessons for t in args.threads]


def has_idle_timeout(server_path):
    usage = subprocess.run([str(server_path), "--help"], capture_output=True, text=True, timeout=30)
    return "--idle-timeout" in usage.stdout


def quiet_cpu(server, seconds):
    """The server's CPU time over `seconds` from now, as a share of one core."""
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = server.cpu_seconds(), time.monotonic()
    return (cpu1 - cpu0) / (t1 - t0)


def run_timeout(target, server_path, client, args):
    """Run 1: N idle and A active connections against --idle-timeout S; then a quiet window."""
    s = args.idle_timeout
    late = s + 1 + args.margin
    result = {"kind": "timeout", "error": None}
    server = b.start_server(server_path, f"idletimeout-{target.tag}-S{s}", ("--idle-timeout", str(s), *target.args))
    with b.guarded_run(result, server):
        accepted = LineCounter(server.stdout_path, "accepted ")
        closed = LineCounter(server.stdout_path, "closed ")
        wait = late + 5  # a close later than this is not waited for: counted as still open
        cmd = [client, "--idle", args.idle, "--active", args.active, "--interval", args.interval,
               "--keep-active", s + 1, "--early", s, "--late", late, "--wait", wait,
               "--timeout", args.timeout, "--port", server.port]
        bound = 2 * args.timeout + 3 * wait + 30
        fields, error = b.run_program(cmd, bound)
        result.update({k: float(v) if "." in v else int(v) for k, v in fields.items()})
        server.assert_alive("while the client ran")
        # Every connection the server accepted has been closed (the client closes none): the
        # server's `closed` lines, which come once a connection is gone, catch up.
        b.wait_until(lambda: closed.update() >= accepted.update() or not server.is_running(), args.timeout)
        result["accepted"], result["closed"] = accepted.update(), closed.update()
        time.sleep(SETTLE)
        result["cpu_after"] = quiet_cpu(server, args.quiet_seconds)
        server.assert_alive("in the quiet window")
        quiet_events = accepted.update() + closed.update() - result["accepted"] - result["closed"]
        result["error"] = error or judge_timeout(result, args, quiet_events)
    return result


def judge_timeout(r, args, quiet_events):
    """What went wrong in a timeout run (None: nothing), from the client's figures and the server's."""
    if "idle_closed" not in r:
        return "the client printed no result line"
    n, a = args.idle, args.active
    s, late = args.idle_timeout, args.idle_timeout + 1 + args.margin
    problems = []
    if r["connect_failed"]:
        problems.append(f"{r['connect_failed']} connects failed")
    if r["idle_echoed"] < n or r["idle_lost"]:
        problems.append(f"{r['idle_echoed']} of {n} idle connections echoed their message "
                        f"({r['idle_lost']} closed or timed out before the echo)")
    if r["idle_open"] or r["active_open"]:
        problems.append(f"{r['idle_open']} idle and {r['active_open']} active connections still open "
                        f"{late + 5:g} s after their last byte")
    outside = r["idle_early"] + r["idle_late"] + r["active_early"] + r["active_late"]
    if outside:
        problems.append(f"{outside} closes outside {s}..{late:g} s ({r['idle_early'] + r['active_early']} "
                        f"early, {r['idle_late'] + r['active_late']} late)")
    if r["active_closed_early"]:
        problems.append(f"{r['active_closed_early']} active connections closed while they were talking")
    if r["lost"] or r["wrong"] or r["echoes"] < r["pings"]:
        problems.append(f"{r['echoes']} of {r['pings']} active echoes came back; {r['lost']} lost, "
                        f"{r['wrong']} wrong or unasked-for reads")
    if r["active_closed"] < a - r["active_closed_early"] - r["active_open"] - r["connect_failed"]:
        problems.append(f"{r['active_closed']} of {a} active connections were closed once silent")
    if r["accepted"] != n + a or r["closed"] != r["accepted"]:
        problems.append(f"the server printed {r['accepted']} accepted and {r['closed']} closed lines, "
                        f"for {n + a} connections")
    if quiet_events:
        problems.append(f"the server printed {quiet_events} accepted/closed lines in the quiet window")
    if r["cpu_after"] > QUIET_CPU_LIMIT:
        problems.append(f"the server used {100 * r['cpu_after']:.1f}% of a core with nothing to do")
    return "; ".join(problems) or None


def run_hold(target, server_path, idleconn, args, idle_timeout):
    """Runs 2 and 3: N silent connections held open, with --idle-timeout H (or without, None): the
    server's CPU time over a quiet window and its VmRSS per connection."""
    n = args.idle
    label = f"H{idle_timeout}" if idle_timeout else "none"
    extra = ("--idle-timeout", str(idle_timeout)) if idle_timeout else ()
    server = b.start_server(server_path, f"idletimeout-{target.tag}-hold-{label}", (*extra, *target.args))
    result = {"kind": "hold", "idle_timeout": idle_timeout, "error": None}
    with b.guarded_run(result, server, CLIENT_ERRORS) as stop_later:
        time.sleep(0.2)  # let it settle after printing its ready line
        result["rss_before"] = server.rss_bytes()
        accepted = LineCounter(server.stdout_path, "accepted ")
        closed = LineCounter(server.stdout_path, "closed ")
        hold = 2 * args.quiet_seconds + 4 * args.timeout + 60  # a bound: the client exits by itself after it
        client = b.start_process([idleconn, "--port", server.port, "--connections", n, "--timeout", args.timeout,
                                  "--hold", hold],
                                 f"idletimeout-{target.tag}-hold-{label}-client", stdin=subprocess.PIPE)
        stop_later.append(client)
        client_line(client, "start ", args.timeout)
        b.wait_until(lambda: accepted.update() >= n or not server.is_running(), args.timeout)
        connected = client_line(client, "connected ", args.timeout)
        result["accepted"], result["connected"] = accepted.update(), int(connected["ok"])
        server.assert_alive("while the client connected")
        time.sleep(SETTLE)
        result["rss_idle"] = server.rss_bytes()
        result["cpu_idle"] = quiet_cpu(server, args.quiet_seconds)
        result["closed_in_hold"] = closed.update()
        server.assert_alive("in the quiet window")

        client.proc.stdin.write(b"echo\n")
        client.proc.stdin.flush()
        result["echoed"] = int(client_line(client, "echoed ", args.timeout + 10)["ok"])
        client.proc.stdin.write(b"close\n")
        client.proc.stdin.flush()
        client_line(client, "closed", args.timeout)
        problems = []
        if result["accepted"] < n or result["connected"] < n or result["echoed"] < n:
            problems.append(f"{result['connected']} of {n} connected, {result['accepted']} accepted, "
                            f"{result['echoed']} echoed after the window")
        if result["closed_in_hold"]:
            problems.append(f"the server closed {result['closed_in_hold']} connections during the hold")
        if result["cpu_idle"] > QUIET_CPU_LIMIT:
            problems.append(f"the server used {100 * result['cpu_idle']:.1f}% of a core with nothing to do")
        if problems:
            result["error"] = "; ".join(problems) + f" (see {server.stdout_path}, {client.stderr_path})"
    return result


def pct(share):
    return f"{100 * share:.1f}%" if share is not None else "-"


def per_conn(r, n):
    if r.get("rss_idle") is None or r.get("rss_before") is None or not n:
        return "-"
    return f"{(r['rss_idle'] - r['rss_before']) / n:.0f}"


def print_timeout_line(target, r, args):
    line = f"run: {target.name} --idle-timeout {args.idle_timeout}:"
    if "close_median" in r:
        line += (f" {r['idle_closed']} of {args.idle} idle closed after {r['close_min']:.3f} / "
                 f"{r['close_median']:.3f} / {r['close_max']:.3f} s (min / median / max; "
                 f"{r['idle_early'] + r['idle_late']} outside "
                 f"{args.idle_timeout}..{args.idle_timeout + 1 + args.margin:g} s, "
                 f"{r['idle_open']} left open); {args.active} active: {r['active_closed_early']} closed while "
                 f"talking, {r['echoes']} of {r['pings']} echoes back, once silent closed after "
                 f"{r['active_close_min']:.3f}..{r['active_close_max']:.3f} s")
    if r.get("cpu_after") is not None:
        line += f"; then, with no connection, server CPU {pct(r['cpu_after'])} of a core"
    print(line)
    if r["error"]:
        print(f"  FAILED: {r['error']}")


def print_hold_line(target, r, args):
    what = f"--idle-timeout {r['idle_timeout']}" if r["idle_timeout"] else "no --idle-timeout"
    line = f"run: {target.name} {what}: {args.idle} idle connections held"
    if r.get("cpu_idle") is not None:
        line += (f"; server CPU over {args.quiet_seconds:g} s {pct(r['cpu_idle'])} of a core; VmRSS "
                 f"{r['rss_before'] / 2**20:.1f} MiB before, {r['rss_idle'] / 2**20:.1f} MiB with them "
                 f"({per_conn(r, args.idle)} B each); {r.get('echoed', '-')} echoed after the window")
    print(line)
    if r["error"]:
        print(f"  FAILED: {r['error']}")


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    targets = targets_of(args)
    s = args.idle_timeout
    per_target = 2 + 3 * (s + 1) + SETTLE + args.quiet_seconds + 2 * (2 + SETTLE + args.quiet_seconds)
    print(f"idle-timeout-bench: {', '.join(t.name for t in targets)}; {args.idle} idle and {args.active} active "
          f"connections over loopback (one message every {args.interval:g} s), --idle-timeout {s}; quiet windows "
          f"of {args.quiet_seconds:g} s; about {len(targets) * per_target:.0f} s in all")
    print(b.machine_note("the server, the client"))
    client = b.build_tool("idletimeout")
    idleconn = b.build_tool("idleconn")
    servers = {l: b.build_lesson(l) for l in args.lessons}  # one build per lesson, whatever its args
    for lesson, path in servers.items():
        if not has_idle_timeout(path):
            b.fail(f"{lesson.path.name}'s server has no --idle-timeout (its --help does not list it)")

    results = {}  # target -> [timeout run, hold run, baseline run]
    for target in targets:
        path = servers[next(l for l in args.lessons if l.path == target.path)]
        runs = [run_timeout(target, path, client, args)]
        print_timeout_line(target, runs[0], args)
        for idle_timeout in (args.hold_timeout, None):
            runs.append(run_hold(target, path, idleconn, args, idle_timeout))
            print_hold_line(target, runs[-1], args)
        results[target] = runs

    print(f"idle-timeout-bench: after the runs, {b.background_note()}")
    print_tables(args, targets, results)
    return b.finish(results)


def print_tables(args, targets, results):
    s, late = args.idle_timeout, args.idle_timeout + 1 + args.margin
    w = max(36, *(len(t.name) for t in targets))  # the server column
    print()
    print(f"Idle timeout: --idle-timeout {s}, {args.idle} idle and {args.active} active connections; close delay "
          f"from a connection's last byte sent, allowed {s}..{late:g} s")
    head = (f"{'server':<{w}} {'idle closed':>11} {'min s':>6} {'median':>6} {'max s':>6} {'outside':>7} "
            f"{'active closed':>13} {'echoes back':>15}")
    print(head)
    print("-" * len(head))
    for target in targets:
        r = results[target][0]
        if "close_median" not in r:
            print(f"{target.name:<{w}} {'FAILED':>11}")
            continue
        echoes = f"{r['echoes']}/{r['pings']}"
        print(f"{target.name:<{w}} {r['idle_closed']:>11} {r['close_min']:>6.3f} {r['close_median']:>6.3f} "
              f"{r['close_max']:>6.3f} {r['idle_early'] + r['idle_late']:>7} {r['active_closed_early']:>13} "
              f"{echoes:>15}")
    print()
    print(f"Nothing to do: the server's CPU time over {args.quiet_seconds:g} s as a share of one core, with no "
          f"connection (after the timeout run) and with {args.idle} silent ones (--idle-timeout {args.hold_timeout}, "
          f"and without); its VmRSS growth per silent connection, with and without")
    head = (f"{'server':<{w}} {'CPU none':>9} {f'CPU {args.idle}':>10} {'no timeout':>10} "
            f"{'B/conn':>7} {'no timeout':>10}")
    print(head)
    print("-" * len(head))
    for target in targets:
        timeout_run, hold, base = results[target]
        print(f"{target.name:<{w}} {pct(timeout_run.get('cpu_after')):>9} {pct(hold.get('cpu_idle')):>10} "
              f"{pct(base.get('cpu_idle')):>10} {per_conn(hold, args.idle):>7} {per_conn(base, args.idle):>10}")
    print()
    print(f"Notes: a close delay runs from the moment the client's write() of a connection's last message "
          f"returned to the moment the client saw the server's end of stream (or a reset). The idle connections "
          f"send their one message spread evenly over a second, so their last bytes fall at every point of a "
          f"tick of the server's timing wheel (once a second): a silent connection goes after {s} to {s + 1} s, "
          f"plus the time the server takes to close a whole bucket of connections and the client to see it. "
          f"Active connections send {args.interval:g} s apart for the whole run, and are timed the same way once "
          f"they stop. "
          f"CPU time comes from /proc/PID/stat in clock ticks of {1000 / CLOCK_TICKS:g} ms, so over "
          f"{args.quiet_seconds:g} s one tick is {100 / CLOCK_TICKS / args.quiet_seconds:.1f}% of a core; more than "
          f"{100 * QUIET_CPU_LIMIT:g}% with nothing to do fails the run. B/conn is user-space memory only "
          f"(VmRSS), as in idle-bench. "
          f"Every server runs with --workers 0 (the loop echoes); the client and the server share the "
          f"machine's cores.")


if __name__ == "__main__":
    sys.exit(main())
