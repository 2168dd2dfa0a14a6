"""Cross-thread calls into an EventLoop: functors per second queued into a loop from 1 and from 2
other threads, and eventfd writes per functor, for chosen lessons side by side.

Run through tools/bench/xthread-bench (it picks the interpreter). For each lesson (12 or later: they
have EventLoop::queueInLoop and wakeups()) it builds tools/bench/xthread/xthread.cpp against that
lesson's own src/ (Release, into build-bench/xthread-NN), then runs it with K producer threads for
each K, the lessons taking turns, --repeat times, and prints the medians. No sockets and no server:
it measures the loop's cross-thread queue and wake-up alone. Every run is bounded in time.
"""

import argparse
import os
import sys

import benchlib as b

CALIBRATION_FUNCTORS = 1_000_000  # about a tenth of a second
MIN_FUNCTORS = 100_000
MAX_FUNCTORS = 20_000_000  # per producer: the queue may hold them all if the loop falls behind


def parse_args():
    p = argparse.ArgumentParser(
        prog="xthread-bench",
        description="Functors per second queued into an EventLoop from other threads, and eventfd writes per "
                    "functor, for lessons side by side.")
    p.add_argument("--lessons", required=True,
                   help="comma-separated lessons, 12 or later, e.g. 12,13 (the first is the base of the ratios)")
    p.add_argument("--producers", default="1,2", help="comma-separated producer thread counts (default 1,2)")
    p.add_argument("--functors", type=int, default=0,
                   help="functors each producer queues (default 0: as many as the first lesson runs in about "
                        "--seconds with one producer)")
    p.add_argument("--seconds", type=float, default=1, help="the run time --functors 0 aims at (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell, interleaved; the median is shown (default 3)")
    a = p.parse_args()
    a.lessons = b.find_library_lessons(a.lessons, "EventLoop.h", ["queueInLoop", "wakeups()"],
                                       "EventLoop::queueInLoop and wakeups() (lessons 12 and later have them)", p.error)
    a.producers = b.parse_list(a.producers, int, 1, 16, p.error)
    if not (0 <= a.functors <= MAX_FUNCTORS and 0.1 <= a.seconds <= 30 and 1 <= a.repeat <= 10):
        p.error(f"--functors must be 0..{MAX_FUNCTORS}, --seconds 0.1..30, --repeat 1..10")
    return a


def run_one(program, producers, functors, timeout):
    """One run; returns a dict with rate (functors/s), wakeups (eventfd writes per functor), seconds
    and error (None when all went well)."""
    fields, error = b.run_program([program, "--producers", producers, "--functors", functors,
                                   "--timeout", timeout], timeout + 30)
    if "functors_per_s" not in fields:
        return {"rate": None, "wakeups": None, "seconds": None, "error": error or "no result line"}
    return {"rate": float(fields["functors_per_s"]), "wakeups": float(fields["wakeups_per_functor"]),
            "seconds": float(fields["seconds"]), "error": error}


def calibrate(program, seconds):
    """Functors per producer that one producer queues, and the loop runs, in about `seconds`."""
    r = run_one(program, 1, CALIBRATION_FUNCTORS, 60)
    if r["error"]:
        b.fail(f"the calibration run failed: {r['error']}")
    functors = r["rate"] * seconds
    rounded = round(functors, -len(str(int(functors))) + 2)  # two significant digits
    return int(min(max(rounded, MIN_FUNCTORS), MAX_FUNCTORS))


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    print(f"xthread-bench: {', '.join(l.name for l in args.lessons)}; producers {args.producers}; "
          f"{args.repeat} runs per cell")
    print(b.machine_note("the loop's thread, the producers"))
    programs = {l: b.build_against("xthread", l) for l in args.lessons}
    if not args.functors:
        args.functors = calibrate(programs[args.lessons[0]], args.seconds)
        print(f"xthread-bench: {args.functors} functors per producer (--functors), about {args.seconds:g} s "
              f"with one producer on {args.lessons[0].name}")
    # Ten times the calibrated time, and at least a minute: only a loop that missed a wake-up takes it.
    timeout = max(60, 10 * args.seconds * max(args.producers))

    results = {}  # (producers, lesson) -> list of run results
    for rep in range(args.repeat):
        for producers in args.producers:
            for lesson in b.turn_order(args.lessons, rep):
                r = run_one(programs[lesson], producers, args.functors, timeout)
                results.setdefault((producers, lesson), []).append(r)
                line = f"run: {lesson.name:<20} producers={producers:<3}"
                if r["rate"] is not None:
                    line += (f" {r['rate'] / 1e6:8.2f} M functors/s in {r['seconds']:.2f} s, "
                             f"{r['wakeups']:.6f} eventfd writes per functor")
                if r["error"]:
                    line += f"   FAILED: {r['error']}"
                print(line, flush=True)

    print(f"xthread-bench: after the runs, {b.background_note()}")
    print_table(args, results)
    return b.finish(results, logs=False)


def print_table(args, results):
    base = args.lessons[0]
    ratio_head = "x" + base.name[:2]
    print()
    print(f"Cross-thread calls: functors queued into the loop by other threads and run there, "
          f"{args.functors} per producer; M/s = millions of functors per second"
          + (f", median of {args.repeat} runs" if args.repeat > 1 else "")
          + f"; {ratio_head} = ratio to lesson {base.name}; wakeups = eventfd writes per functor")

    def cell(rate, ratio, wakeups):
        return f" {rate:>7} {ratio:>5} {wakeups:>9} "

    width = len(cell("", "", ""))
    print(f"{'producers':>9} |" + "|".join(f" {l.name:<{width - 1}}"[:width] for l in args.lessons))
    sub = f"{'':>9} |" + "|".join(cell("M/s", ratio_head, "wakeups") for _ in args.lessons)
    print(sub)
    print("-" * len(sub))
    for producers in args.producers:
        base_rate = b.median(b.good_values(results[(producers, base)], "rate"))
        cells = []
        for lesson in args.lessons:
            runs = results[(producers, lesson)]
            rate = b.median(b.good_values(runs, "rate"))
            if rate is None:
                cells.append(cell("FAILED", "", ""))
                continue
            wakeups = b.median(b.good_values(runs, "wakeups"))
            cells.append(cell(f"{rate / 1e6:.2f}", b.ratio(rate, base_rate), f"{wakeups:.6f}"))
        print(f"{producers:>9} |" + "|".join(cells))
    b.print_spread([b.good_values(runs, "rate") for runs in results.values()], args.repeat)
    print()
    print(f"Notes: the time runs from the producers' start until the loop has run every functor (the last "
          f"producer's quit() ends it). A wakeups figure far below 1 means the loop batches: only a call that "
          f"finds the queue empty writes the eventfd, and the loop takes the whole queue in one go. With more "
          f"producers than the {os.cpu_count()} cores can hold next to the loop's thread, they take turns "
          f"with it, and the rate says as much about the scheduler as about the queue.")


if __name__ == "__main__":
    sys.exit(main())
