"""Connection churn: connections opened, echoed once and closed per second, for chosen lessons side
by side.

Run through tools/bench/churn-bench (it picks the interpreter). Each run starts a lesson's server
fresh on a kernel-chosen port, drives it with the churn client (tools/bench/churn.cpp) for a fixed
time, and stops it by its PID. Each client thread connects, sends one small message, reads the whole
echo back, and closes the connection with a reset (no TIME_WAIT: churn.cpp says why), over and over.
Then it prints each lesson's cycles/s, its ratio to the first lesson listed, and the cycles that
failed. Loopback only; every run is bounded in time.
"""

import argparse
import os
import sys

import benchlib as b


def parse_args():
    p = argparse.ArgumentParser(
        prog="churn-bench",
        description="Connections opened, echoed once and closed per second, for lessons side by side.")
    p.add_argument("--lessons", required=True, help="comma-separated lessons, e.g. 10,13 (the first is the base of the ratios); "
                   "server arguments after a colon: 10,13:--threads 1")
    p.add_argument("--client-threads", type=int, default=2,
                   help="client threads, each with one connection at a time (default 2)")
    p.add_argument("--seconds", type=float, default=5, help="measured seconds per run (default 5)")
    p.add_argument("--warmup", type=float, default=1, help="warm-up seconds before each measurement (default 1)")
    p.add_argument("--repeat", type=int, default=1, help="runs per lesson, interleaved; the median is shown (default 1)")
    p.add_argument("--message-bytes", type=int, default=64, help="bytes echoed on each connection (default 64)")
    a = p.parse_args()
    a.lessons = b.find_lessons(a.lessons, p.error)
    if not (0.5 <= a.seconds <= 60 and 0 <= a.warmup <= 10 and 1 <= a.client_threads <= 16 and 1 <= a.repeat <= 10
            and 1 <= a.message_bytes <= 65536):
        p.error("--seconds must be 0.5..60, --warmup 0..10, --client-threads 1..16, --repeat 1..10, "
                "--message-bytes 1..65536")
    return a


def run_one(lesson, server_path, args, churn, rep):
    """One lesson, one run: a fresh server, one client run, the server stopped. Returns a dict with
    rate (cycles/s), cycles and failures (measured), server_cpu and error (None when all went
    well)."""
    cmd = [churn, "--threads", args.client_threads, "--message-bytes", args.message_bytes,
           "--seconds", args.seconds, "--warmup", args.warmup]
    run = b.run_client(lesson, server_path, f"churn-{lesson.tag}-r{rep}", cmd,
                       timeout=args.seconds + args.warmup + 60)
    fields = run.fields
    return {"rate": float(fields["cycles_per_s"]) if "cycles_per_s" in fields else None,
            "cycles": int(fields.get("cycles", 0)), "failures": int(fields.get("failures", 0)),
            "server_cpu": run.server_cpu, "error": run.error}


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    runs = len(args.lessons) * args.repeat
    print(f"churn-bench: {', '.join(l.name for l in args.lessons)}; {args.client_threads} client threads, "
          f"{args.message_bytes}-byte messages; {args.seconds:g} s measured after {args.warmup:g} s warm-up per run; "
          f"about {runs * (args.seconds + args.warmup + 0.5):.0f} s in all")
    print(b.machine_note(f"the server, the {args.client_threads}-thread client"))

    churn = b.build_tool("churn")
    servers = {l: b.build_lesson(l) for l in args.lessons}  # one build per lesson, whatever its args

    results = {}  # lesson -> list of run results
    for rep in range(args.repeat):
        for lesson in b.turn_order(args.lessons, rep):
            r = run_one(lesson, servers[lesson], args, churn, rep)
            results.setdefault(lesson, []).append(r)
            line = f"run: {lesson.name:<30}"
            if r["rate"] is not None:
                line += f" {r['rate']:9.0f} cycles/s, {r['failures']} of {r['cycles'] + r['failures']} failed"
            line += f"   server CPU {100 * r['server_cpu']:.0f}% of a core"
            if r["error"]:
                line += f"   FAILED: {r['error']}"
            print(line, flush=True)

    print(f"churn-bench: after the runs, {b.background_note()}")
    print_table(args, results)
    return b.finish(results)


def print_table(args, results):
    base = args.lessons[0]
    ratio_head = "x" + base.name[:2]
    print()
    print(f"Connection churn: connect, echo {b.size_label(args.message_bytes)}, close; completed cycles/s"
          + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
          + f"; {ratio_head} = ratio to lesson {base.name}")
    head = f"{'lesson':<30} {'cycles/s':>9} {ratio_head:>6} {'server CPU':>10}  failed (all runs)"
    print(head)
    print("-" * len(head))
    base_rate = b.median(b.good_values(results[base], "rate"))
    for lesson in args.lessons:
        runs = results[lesson]
        rate = b.median(b.good_values(runs, "rate"))
        cpu = b.median(b.good_values(runs, "server_cpu"))
        failed = sum(r["failures"] for r in runs)
        attempts = failed + sum(r["cycles"] for r in runs)
        failed_text = f"{failed} of {attempts}" + (f" ({100 * failed / attempts:.2f}%)" if failed else "")
        if rate is None:
            print(f"{lesson.name:<30} {'FAILED':>9} {'':>6} {'':>10}  {failed_text}")
            continue
        print(f"{lesson.name:<30} {rate:>9.0f} {b.ratio(rate, base_rate):>6} {100 * cpu:>9.0f}%  {failed_text}")
    b.print_spread([b.good_values(runs, "rate") for runs in results.values()], args.repeat)
    print()
    print(f"Notes: each of the {args.client_threads} client threads has one connection at a time, so this is the "
          f"cost and latency of a connection's whole life (handshake, accept, one echo, teardown), not how "
          f"many connections a server can juggle at once. The client closes with a reset (SO_LINGER 0), which "
          f"leaves no TIME_WAIT behind but means every connection ends on the server's reset path (ECONNRESET, and "
          f"whatever the server does then, such as printing an error line, is part of the cost). Server CPU is the share of one core the server used; "
          f"client and server share this machine's {os.cpu_count()} cores (nothing pinned). A connection is "
          f"counted only when its echo came back whole and right; a run fails if more than 1% of its cycles "
          f"failed.")


if __name__ == "__main__":
    sys.exit(main())
