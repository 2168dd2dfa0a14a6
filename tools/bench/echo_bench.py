"""Echo ping-pong throughput of chosen lessons, side by side, against the loopback ceiling.

Run through tools/bench/echo-bench (it picks the interpreter). For every (sessions, block size) it
runs each lesson's server in turn, fresh, on a kernel-chosen port, drives it with the ping-pong
client (tools/bench/pingpong.cpp) for a fixed time, and stops it by its PID. Then it prints each
lesson's MiB/s, its ratio to the first lesson listed, and its share of iperf3's one-stream loopback
throughput measured in the same run. Loopback only; every run is bounded in time.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

import benchlib as b


def parse_args():
    p = argparse.ArgumentParser(
        prog="echo-bench",
        description="Echo ping-pong throughput of lessons side by side, against iperf3's loopback ceiling.")
    p.add_argument("--lessons", required=True, help="comma-separated lessons, e.g. 03,04,07 (the first is the base of the ratios); "
                   "server arguments after a colon: 10,13:--threads 1")
    p.add_argument("--sessions", default="1,10,100", help="comma-separated session counts (default 1,10,100)")
    p.add_argument("--blocks", default="4096,16384", help="comma-separated block sizes in bytes (default 4096,16384)")
    # Whole seconds: iperf3 takes no fractions.
    p.add_argument("--seconds", type=int, default=5, help="measured seconds per run (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up seconds before each measurement (default 1)")
    p.add_argument("--client-threads", type=int, default=2, help="ping-pong client threads (default 2)")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell, interleaved; the median is shown (default 1)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the iperf3 loopback measurement")
    a = p.parse_args()
    a.lessons = b.find_lessons(a.lessons)
    a.sessions = b.parse_list(a.sessions, int, 1, 1000)
    a.blocks = b.parse_list(a.blocks, int, 1, 4 << 20)
    if not (1 <= a.seconds <= 60 and 0 <= a.warmup <= 10 and 1 <= a.client_threads <= 16 and 1 <= a.repeat <= 10):
        b.fail("--seconds must be 1..60, --warmup 0..10, --client-threads 1..16, --repeat 1..10")
    return a


def measure_ceiling(seconds, warmup):
    """iperf3, one TCP stream over loopback for the same time as a ping-pong run. Returns MiB/s,
    or None (with one line saying why) when iperf3 is missing or fails."""
    iperf3 = shutil.which("iperf3")
    if iperf3 is None:
        print("ceiling: iperf3 is not installed (tools/install-deps --bench installs it); skipping the loopback ceiling")
        return None
    port = b.free_port()
    # -1: serve one test, then exit; -B: loopback only.
    server = b.start_process([iperf3, "-s", "-1", "-p", str(port), "-B", "127.0.0.1"], "iperf3-server")
    try:
        if not b.wait_until(lambda: b.listening(port), timeout=10):
            print(f"ceiling: the iperf3 server did not start (see {server.stderr_path}); skipping the loopback ceiling")
            return None
        # -O: leave the warm-up seconds out of the result, as the ping-pong client does.
        args = [iperf3, "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-O", str(warmup), "-J"]
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=seconds + warmup + 30)
            result = json.loads(run.stdout)
            bits = result["end"]["sum_received"]["bits_per_second"]
        except (subprocess.TimeoutExpired, ValueError, KeyError) as e:
            print(f"ceiling: iperf3 failed ({type(e).__name__}); skipping the loopback ceiling")
            return None
        return bits / 8 / 2**20
    finally:
        server.stop()


def run_one(lesson, server_path, sessions, block, args, pingpong):
    """One lesson, one (sessions, block): a fresh server, one client run, the server stopped.
    Returns a dict with mib, msgs, server_cpu and error (None when all went well)."""
    cmd = [pingpong, "--sessions", sessions, "--block", block, "--seconds", args.seconds,
           "--warmup", args.warmup, "--threads", args.client_threads]
    run = b.run_client(lesson, server_path, f"{lesson.tag}-s{sessions}-b{block}", cmd,
                       timeout=args.seconds + args.warmup + 60)
    result = {"mib": None, "msgs": None, "server_cpu": run.server_cpu, "error": run.error}
    if "mib_per_s" in run.fields:
        result["mib"] = float(run.fields["mib_per_s"])
        result["msgs"] = float(run.fields["msgs_per_s"])
    if run.error and not run.server_died:
        dropped = sum(1 for line in run.server.stderr_text(limit=None).splitlines() if line.startswith("dropped"))
        if dropped:
            result["error"] += f"; the server reported {dropped} 'dropped' writes"
    return result


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    cells = len(args.sessions) * len(args.blocks) * len(args.lessons) * args.repeat
    ceiling_runs = 0 if args.no_ceiling else args.repeat
    estimate = (cells + ceiling_runs) * (args.seconds + args.warmup + 0.5)
    print(f"echo-bench: {', '.join(l.name for l in args.lessons)}; sessions {args.sessions}, blocks {args.blocks}; "
          f"{args.seconds} s measured after {args.warmup} s warm-up per run; about {estimate:.0f} s in all")
    print(b.machine_note(f"the server, the {args.client_threads}-thread client"))

    pingpong = b.build_tool("pingpong")
    servers = {l: b.build_lesson(l) for l in args.lessons}  # one build per lesson, whatever its args

    ceilings = []
    results = {}  # (sessions, block, lesson) -> list of run results
    for rep in range(args.repeat):
        if not args.no_ceiling:
            ceiling = measure_ceiling(args.seconds, args.warmup)
            if ceiling is None:
                args.no_ceiling = True
            else:
                ceilings.append(ceiling)
                print(f"ceiling: iperf3, 1 stream over loopback: {ceiling:.1f} MiB/s")
        # Lessons run next to each other for each cell, so that a noisy moment hits them alike, and
        # each repetition starts with the next lesson, so that none always goes first.
        order = b.turn_order(args.lessons, rep)
        for sessions in args.sessions:
            for block in args.blocks:
                for lesson in order:
                    r = run_one(lesson, servers[lesson], sessions, block, args, pingpong)
                    results.setdefault((sessions, block, lesson), []).append(r)
                    line = f"run: {lesson.name:<30} sessions={sessions:<4} block={block:<7}"
                    if r["mib"] is not None:
                        line += f" {r['mib']:8.1f} MiB/s {r['msgs']:9.0f} msg/s"
                    if r["server_cpu"] is not None:
                        line += f"   server CPU {100 * r['server_cpu']:.0f}% of a core"
                    if r["error"]:
                        line += f"   FAILED: {r['error']}"
                    print(line, flush=True)

    print(f"echo-bench: after the runs, {b.background_note()}")
    ceiling = statistics.median(ceilings) if ceilings else None
    print_table(args, results, ceiling)
    return b.finish(results)


def median_mib(runs):
    return b.median(b.good_values(runs, "mib"))


def print_table(args, results, ceiling):
    base = args.lessons[0]
    print()
    print("Echo ping-pong throughput: MiB/s of echoed payload"
          + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
          + f"; x{base.name[:2]} = ratio to lesson {base.name}"
          + ("; ceil = share of the loopback ceiling" if ceiling else ""))
    if ceiling:
        print(f"Loopback ceiling (iperf3, one stream, {args.seconds} s): {ceiling:.1f} MiB/s")

    def cell(mib, ratio, share):
        return f" {mib:>8} {ratio:>6}" + (f" {share:>5}" if ceiling else "") + " "

    width = len(cell("", "", ""))
    print(f"{'sessions':>8} {'block':>8} |" + "|".join(f" {l.label:<{width - 1}}"[:width] for l in args.lessons))
    sub = f"{'':>8} {'':>8} |" + "|".join(cell("MiB/s", "x" + base.name[:2], "ceil") for _ in args.lessons)
    print(sub)
    print("-" * len(sub))
    for sessions in args.sessions:
        for block in args.blocks:
            base_mib = median_mib(results[(sessions, block, base)])
            cells = []
            for lesson in args.lessons:
                mib = median_mib(results[(sessions, block, lesson)])
                if mib is None:
                    cells.append(cell("FAILED", "", ""))
                    continue
                share = f"{100 * mib / ceiling:.0f}%" if ceiling else ""
                cells.append(cell(f"{mib:.1f}", b.ratio(mib, base_mib), share))
            print(f"{sessions:>8} {b.size_label(block):>8} |" + "|".join(cells))
    b.print_spread([b.good_values(runs, "mib") for runs in results.values()], args.repeat)
    print()
    print(f"Notes: client and server share this machine's {os.cpu_count()} cores (nothing pinned), so a "
          f"faster client leaves less CPU to the server, and each figure depends on where the scheduler puts "
          f"them: on one core a round trip needs no cross-core wake-up, which matters most with 1 session. "
          f"The machine is noisy: use --repeat 3 and read the spread line; a difference smaller than the "
          f"spread is noise. Echoed bytes cross loopback twice (there and back) but are counted once, as "
          f"iperf3 counts its one-way stream.")


if __name__ == "__main__":
    sys.exit(main())
