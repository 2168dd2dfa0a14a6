"""Logging: what one LOG_INFO line costs the thread that logs it (median, p99, p99.9, max), from 1
and from 2 threads at once; lines per second into a file on tmpfs, and lines lost at the end; and
the stall of a synchronous log whose stderr is a pipe read slowly; for chosen lessons' loggers (17
and later): the lesson's default sink (one write(2) per line to stderr, pointed at a file on tmpfs,
at /dev/null or at a slow pipe) next to its AsyncLogging (18 and later: a buffer in memory, written
to a file on tmpfs by a thread of its own), against the async logger's targets.

Run through tools/bench/log-bench (it picks the interpreter). For each lesson it builds
tools/bench/log/log.cpp against that lesson's own src/ (Release, into build-bench/log-NN). Then each
run is a fresh process with a fresh directory on tmpfs (removed after the run), the lessons taking
turns, --repeat times, and it prints the medians. No sockets and no server. Every run is bounded in
count and in time.
"""

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import benchlib as b

TARGET_MEDIAN_NS = 100  # the asynchronous logger's targets: per LOG_INFO call in the thread that logs
TARGET_P999_NS = 1000
TARGET_LINES_PER_S = 4_000_000  # into a file on tmpfs, counted until the last line is in the file
PARTS = ("latency", "throughput", "stall")
SINKS = {  # the program's --sink -> its label in the tables
    "stderr-file": "stderr > file",
    "stderr-null": "stderr > /dev/null",
    "stderr-pipe": "stderr > slow pipe",
    "async-file": "AsyncLogging > file",
}
SYNC_REFERENCE = "stderr-file"  # the synchronous reference of the ratios
LATENCY_ROWS = (("stderr-file", False), ("stderr-null", False), ("async-file", False), ("async-file", True))


def parse_args():
    p = argparse.ArgumentParser(
        prog="log-bench",
        description="What a LOG_INFO line costs the thread that logs it, lines per second into a file and lines lost, "
                    "and the stall of a synchronous log on a slow pipe: lessons' stderr sink next to their "
                    "AsyncLogging, against the async logger's targets.")
    p.add_argument("--lessons", default=None,
                   help="comma-separated lessons, 17 or later (default: every lesson with the logger); the first is the "
                        "reference of the ratios; AsyncLogging is measured in those that have it (18 on)")
    p.add_argument("--threads", default="1,2", help="comma-separated logging thread counts (default 1,2)")
    p.add_argument("--lines", type=int, default=200_000,
                   help="timed LOG_INFO calls per thread in a latency run (default 200000)")
    p.add_argument("--warm-lines", type=int, default=1_000_000,
                   help="untimed lines before the timed ones of a warm AsyncLogging latency run, all threads together "
                        "(default 1000000: some 110 MB, more than lesson 19's 8 buffers of 4 MB hold)")
    p.add_argument("--throughput-lines", type=int, default=1_000_000,
                   help="lines per throughput run, all threads together (default 1000000)")
    p.add_argument("--stall-lines", type=int, default=20_000,
                   help="lines per stall run, from one thread (default 20000: about half a second on the slow pipe)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"comma-separated parts to run: {', '.join(PARTS)} (default all)")
    p.add_argument("--dir", default="/dev/shm",
                   help="where the log files go, a fresh directory per run (default /dev/shm, a tmpfs)")
    p.add_argument("--seconds", type=float, default=10,
                   help="bound on the logging of one run: its threads stop logging after this (default 10)")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell, interleaved; the median is shown (default 1)")
    a = p.parse_args()
    if a.lessons is None:
        a.lessons = ",".join(path.name[:2] for path in sorted((b.ROOT / "lessons").iterdir())
                             if "class LogSink" in b.read_text(path / "src" / "Logging.h"))
    a.lessons = b.find_library_lessons(a.lessons, "Logging.h", ["class LogSink", "setSink("],
                                       "Logger::setSink and LogSink (lessons 17 and later have them)", p.error)
    a.threads = b.parse_list(a.threads, int, 1, 16, lambda m: p.error(f"--threads: {m}"))
    a.parts = [part.strip() for part in a.parts.split(",") if part.strip()]
    for part in a.parts:
        if part not in PARTS:
            p.error(f"--parts: {part!r} is not a part (parts: {', '.join(PARTS)})")
    if not a.parts:
        p.error("--parts: no part given")
    if not (1000 <= a.lines <= 10_000_000 and 0 <= a.warm_lines <= 20_000_000
            and 1000 <= a.throughput_lines <= 20_000_000 and 1000 <= a.stall_lines <= 1_000_000):
        p.error("--lines must be 1000..10000000, --warm-lines 0..20000000, --throughput-lines 1000..20000000, "
                "--stall-lines 1000..1000000")
    if not (0.1 <= a.seconds <= 600 and 1 <= a.repeat <= 10):
        p.error("--seconds must be 0.1..600, --repeat 1..10")
    if not os.path.isdir(a.dir):
        p.error(f"--dir: {a.dir} is not a directory")
    return a


def has_async(lesson):
    return (lesson.path / "src" / "AsyncLogging.h").exists()


def file_system(path):
    """The type of the file system that holds `path` (tmpfs, ext4, ...), from /proc/mounts."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    for line in b.read_text("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")) \
                and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


@dataclass(frozen=True)
class Case:
    """One cell's settings: the part (latency, throughput or stall), the sink, the threads, and for
    AsyncLogging's latency whether it is warm (after --warm-lines untimed lines) or cold (fresh)."""
    part: str
    sink: str
    threads: int
    warm: bool = False

    def applies(self, lesson):
        return self.sink != "async-file" or has_async(lesson)

    @property
    def label(self):
        return SINKS[self.sink] + (", warm" if self.warm else ", cold" if self.sink == "async-file" else "")


def cases(args):
    found = []
    if "latency" in args.parts:
        found += [Case("latency", sink, t, warm) for t in args.threads
                  for sink, warm in LATENCY_ROWS]
    if "throughput" in args.parts:
        found += [Case("throughput", sink, t) for t in args.threads for sink in ("stderr-file", "async-file")]
    if "stall" in args.parts:
        found += [Case("stall", sink, 1) for sink in ("stderr-pipe", "async-file")]
    return found


FIELDS = {  # the program's result field -> the name a run's dict keeps it under
    "median_ns": "median", "p99_ns": "p99", "p999_ns": "p999", "max_ns": "max", "empty_pair_ns": "pair",
    "over_1us": "over1us", "over_1ms": "over1ms", "lines_per_s": "rate", "log_seconds": "log_s", "seconds": "s",
    "logged": "logged", "lost": "lost", "dropped": "dropped", "other": "other", "faults": "faults",
    "big_allocations": "big", "bytes": "bytes",
}


def run_one(program, case, args):
    """One run in a fresh directory under --dir, removed afterwards; returns a dict with the FIELDS'
    names (None when missing) and error (None when all went well)."""
    lines = {"latency": args.lines, "throughput": args.throughput_lines, "stall": args.stall_lines}[case.part]
    mode = "throughput" if case.part == "throughput" else "latency"
    warm_up = ["--warm-up", args.warm_lines // case.threads] if case.warm else []
    # The logging's bound, the warm-up (10 us a line is ten times what it takes), then stop() and reading
    # the files back.
    timeout = args.seconds + 60 + (args.warm_lines * 10e-6 if case.warm else 0)
    directory = tempfile.mkdtemp(prefix="log-bench-", dir=args.dir)
    try:
        fields, error = b.run_program([program, "--sink", case.sink, "--dir", directory, "--mode", mode,
                                       "--threads", case.threads, "--lines", lines, "--seconds", args.seconds,
                                       "--timeout", f"{timeout:.0f}", *warm_up], timeout + 30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    run = {name: float(fields[key]) if key in fields else None for key, name in FIELDS.items()}
    if run["rate"] is None and not error:
        error = "no result line"
    run["error"] = error
    return run


def number(value):
    """A count or a time in ns, with thousands separators."""
    return "-" if value is None else f"{value:,.0f}"


def times(value, base):
    """A ratio of times, to two significant digits (0.055: 18 times faster)."""
    return "-" if value is None or not base else f"{value / base:.2g}"


def describe(r):
    """A run's line after `run: ...`."""
    if r["rate"] is None:
        return ""
    text = ""
    if r["median"] is not None:
        text += (f" median {number(r['median'])}, p99 {number(r['p99'])}, p99.9 {number(r['p999'])}, "
                 f"max {number(r['max'])} ns (pair {number(r['pair'])});")
    text += f" {r['rate'] / 1e6:.2f} M lines/s; {number(r['logged'])} logged"
    if r["lost"] is not None:
        text += f", {number(r['lost'])} lost"
    if r["dropped"]:
        text += f" ({number(r['dropped'])} dropped)"
    return text + f"; {number(r['faults'])} faults, {number(r['big'])} buffers made by the logging threads"


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    args = parse_args()
    kind = file_system(args.dir)
    print(f"log-bench: {', '.join(l.name for l in args.lessons)}; parts {', '.join(args.parts)}; threads "
          f"{args.threads}; {args.repeat} runs per cell; log files in {args.dir} ({kind}"
          + (": not tmpfs, so the file figures include a file system's costs" if kind != "tmpfs" else "") + ")")
    print(b.machine_note("the logging threads, AsyncLogging's back end, the pipe's reader"))
    programs = {l: b.build_against("log", l) for l in args.lessons}

    results = {}  # (case, lesson) -> list of run results
    for rep in range(args.repeat):
        for case in cases(args):
            for lesson in b.turn_order([l for l in args.lessons if case.applies(l)], rep):
                r = run_one(programs[lesson], case, args)
                results.setdefault((case, lesson), []).append(r)
                line = f"run: {lesson.name:<16} {case.part:<10} {case.label:<26} T={case.threads}" + describe(r)
                if r["error"]:
                    line += f"   FAILED: {r['error']}"
                print(line, flush=True)

    print(f"log-bench: after the runs, {b.background_note()}")
    tables = Tables(args, results)
    if "latency" in args.parts:
        tables.latency()
    if "throughput" in args.parts:
        tables.throughput()
    if "stall" in args.parts:
        tables.stall()
    # The medians and the rates: a p99.9 or a max is one rare event, and swings much more from run to run.
    b.print_spread([b.good_values(runs, key) for runs in results.values() for key in ("median", "rate")
                    if b.good_values(runs, key)], args.repeat)
    tables.notes()
    tables.verdict()
    return b.finish(results, logs=False)


class Tables:
    """The tables of a run's medians, their notes, and the verdict on the targets."""

    def __init__(self, args, results):
        self.args = args
        self.results = results
        self.base = args.lessons[0]  # the reference of the ratios

    def median(self, cell, key):
        return b.median(b.good_values(self.results.get(cell, []), key))

    def total(self, cell, key):
        """`key` added up over every run of the cell (lost lines: one lost in one run counts)."""
        values = b.good_values(self.results.get(cell, []), key)
        return sum(values) if values else None

    def cells(self, part, rows, threads):
        """(case, lesson) for every cell of the part: by threads, then by row ((sink, warm) pairs), then by
        lesson."""
        for t in threads:
            for sink, warm in rows:
                for lesson in self.args.lessons:
                    case = Case(part, sink, t, warm)
                    if case.applies(lesson):
                        yield case, lesson

    def references(self, case, lesson):
        """The cells a row is compared with: the first lesson's synchronous logger (stderr > file; for the stall,
        stderr > slow pipe) with the same threads, and the same case in the first lesson that has it; None
        where the row is that cell."""
        sync = (Case(case.part, "stderr-pipe" if case.part == "stall" else SYNC_REFERENCE, case.threads), self.base)
        first = (case, next(l for l in self.args.lessons if case.applies(l)))
        return tuple(None if ref == (case, lesson) else ref for ref in (sync, first))

    def table(self, title, columns, part, rows, threads, figures):
        """Prints a table: `columns` (heading, width) after the lesson, sink and threads; `figures(case,
        lesson)` gives a row's cells but the two ratio columns, which `ratio(value_cell, reference_cell)`
        fills; None for a cell whose runs all failed."""
        print()
        print(title + (f"; median of {self.args.repeat} runs" if self.args.repeat > 1 else ""))
        head = f"{'lesson':<16} {'sink':<26} {'thr':>3} |" + "".join(f"{c:>{w}}" for c, w in columns)
        print(head)
        print("-" * len(head))
        for case, lesson in self.cells(part, rows, threads):
            cells = figures(case, lesson)
            if cells is None:
                cells = ["FAILED"]
            print(f"{lesson.name:<16} {case.label:<26} {case.threads:>3} |"
                  + "".join(f"{c:>{w}}" for c, (_, w) in zip(cells, columns)))

    def time_ratios(self, case, lesson, m, keys):
        """The two ratio cells of a row of times: its figures `m[key]` over each reference's, joined by '/'."""
        return ["" if ref is None else "/".join(times(m[key], self.median(ref, key)) for key in keys)
                for ref in self.references(case, lesson)]

    def ratio_heads(self, what):
        return (f"x{self.base.name[:2]} sync {what}", 17), (f"xfirst {what}", 15)

    def latency(self):
        def figures(case, lesson):
            m = {key: self.median((case, lesson), key) for key in ("median", "p99", "p999", "max", "over1us", "faults")}
            if m["median"] is None:
                return None
            timed = self.args.lines * case.threads
            cells = [number(m["median"]), number(m["p99"]), number(m["p999"]), number(m["max"]),
                     f"{100 * m['over1us'] / timed:.2f}", number(m["faults"]), number(self.total((case, lesson), "lost"))]
            return cells + self.time_ratios(case, lesson, m, ("median", "p999"))

        self.table(f"Front end: ns per LOG_INFO call in the thread that logs, {self.args.lines:,} timed calls per "
                   f"thread, the threads released together (cold: a fresh AsyncLogging; warm: after "
                   f"{self.args.warm_lines:,} untimed lines)",
                   [("median", 9), ("p99", 9), ("p99.9", 10), ("max", 12), (">1us %", 8), ("faults", 8), ("lost", 9),
                    *self.ratio_heads("m/.999")],
                   "latency", LATENCY_ROWS, self.args.threads, figures)

    def throughput(self):
        def figures(case, lesson):
            m = {key: self.median((case, lesson), key) for key in ("rate", "bytes", "s", "log_s", "faults", "big")}
            if m["rate"] is None:
                return None
            cells = [f"{m['rate'] / 1e6:.2f}", f"{m['bytes'] / m['s'] / 1e6:.0f}", f"{m['log_s']:.3f}", f"{m['s']:.3f}",
                     number(self.total((case, lesson), "lost")), number(self.total((case, lesson), "dropped")),
                     number(m["faults"]), number(m["big"])]
            for ref in self.references(case, lesson):
                cells.append("" if ref is None else b.ratio(m["rate"], self.median(ref, "rate")))
            return cells

        self.table(f"Throughput: {self.args.throughput_lines:,} lines into a file on {self.args.dir}, the threads "
                   f"sharing them; counted until every line is in the file (AsyncLogging: until stop() returned)",
                   [("M/s", 7), ("MB/s", 7), ("log s", 8), ("file s", 8), ("lost", 9), ("dropped", 9), ("faults", 8),
                    ("buffers", 9), *self.ratio_heads("M/s")],
                   "throughput", (("stderr-file", False), ("async-file", False)), self.args.threads, figures)

    def stall(self):
        def figures(case, lesson):
            m = {key: self.median((case, lesson), key) for key in ("median", "p999", "max", "over1ms", "log_s", "s")}
            if m["median"] is None:
                return None
            cells = [number(m["median"]), number(m["p999"]), number(m["max"]), number(m["over1ms"]),
                     number(self.total((case, lesson), "lost")), f"{m['log_s']:.3f}", f"{m['s']:.3f}"]
            return cells + self.time_ratios(case, lesson, m, ("p999", "max"))

        self.table(f"Stall: {self.args.stall_lines:,} LOG_INFO calls in a burst from one thread, ns per call: stderr a "
                   f"pipe read 4 KiB every ms, next to AsyncLogging writing a file",
                   [("median", 9), ("p99.9", 11), ("max", 12), (">1ms", 7), ("lost", 9), ("log s", 8), ("end s", 8),
                    (f"x{self.base.name[:2]} pipe .999/max", 20), ("xfirst .999/max", 17)],
                   "stall", (("stderr-pipe", False), ("async-file", False)), [1], figures)

    def notes(self):
        pairs = sorted({int(v) for runs in self.results.values() for v in b.good_values(runs, "pair")})
        base = self.base.name
        print()
        print(textwrap.fill(
            "Notes: each LOG_INFO call is `LOG_INFO << \"accepted connection \" << peer << \" fd \" << fd << "
            "\" total \" << n` (a std::string and two integers; about 110 bytes with the time stamp, thread "
            "id, level and source), timed alone with CLOCK_MONOTONIC read before and after it: wall-clock "
            "time, so a call that lost its core to another thread counts with that time. The median cost of an "
            f"empty pair of reads ({'/'.join(map(str, pairs)) or '-'} ns) is subtracted from every figure. "
            "stderr > file: the lesson's default sink, one write(2) per line, fd 2 a file opened with O_APPEND "
            f"on {self.args.dir}; stderr > /dev/null: the same write(2), which does nothing; AsyncLogging > "
            "file: the line copied into a 4 MB buffer under a mutex, a thread of its own writing the buffers "
            "to a file on the same file system; cold: a fresh AsyncLogging (a server just started); warm: after enough untimed lines to fill every buffer at "
            "least once. >1us %: the share of calls that took longer than 1 us. faults: minor page faults of "
            "the whole process from the start of the timed part until every line was in the file (memory "
            "touched for the first time: each costs microseconds on a VM). buffers: 4 MB log buffers made by "
            "the logging threads themselves (in AsyncLogging::append, under its mutex). lost: lines logged "
            "that are not in the file (or the pipe) afterwards, all runs together; dropped: of those, lines "
            "the logger dropped on purpose and counted (lesson 19, when no buffer is free). log s: until the "
            "last line was logged; file s / end s: until it was in the file (after stop()) or read from the "
            f"pipe. M/s: lines in the file per second over file s. x{base[:2]} sync: this row's figure divided "
            f"by lesson {base}'s stderr > file row with the same threads (the synchronous logger), median/p99.9 "
            "for times (0.05: 20 times faster), M/s for throughput (2.00: twice as fast); xfirst: divided by "
            "the same row of the first lesson that has it (e.g. 19's AsyncLogging over 18's). Stall: the same "
            "burst, stderr a pipe that a thread reads 4 KiB every ms from (about 4 MB/s: a terminal or a "
            f"collector that cannot keep up); >1ms: calls that took longer than 1 ms; x{base[:2]} pipe: divided "
            f"by lesson {base}'s stderr > slow pipe row.",
            width=100))

    def verdict(self):
        """One line per target and lesson with AsyncLogging: met or not, for each thread count, with the figure."""
        threads = self.args.threads
        for lesson in self.args.lessons:
            if not has_async(lesson):
                continue
            print(f"log-bench: lesson {lesson.name}'s AsyncLogging against the targets:")
            if "latency" in self.args.parts:
                for key, name, target in (("median", "median", TARGET_MEDIAN_NS), ("p999", "p99.9", TARGET_P999_NS)):
                    parts = []
                    for warm in (False, True):
                        figures = [(t, self.median((Case("latency", "async-file", t, warm), lesson), key))
                                   for t in threads]
                        parts.append(("warm: " if warm else "cold: ")
                                     + judge(figures, lambda v, limit=target: v <= limit, lambda v: f"{number(v)} ns"))
                    print(f"  {name} <= {target:,} ns per call: " + "; ".join(parts))
            if "throughput" in self.args.parts:
                figures = [(t, self.median((Case("throughput", "async-file", t), lesson), "rate")) for t in threads]
                print(f"  >= {TARGET_LINES_PER_S / 1e6:g} M lines/s into a file, {self.args.throughput_lines:,} lines: "
                      + judge(figures, lambda v: v >= TARGET_LINES_PER_S, lambda v: f"{v / 1e6:.2f} M/s"))
            cells = [(case, rs) for (case, l), rs in self.results.items() if l == lesson and case.sink == "async-file"]
            good = [r for _, rs in cells for r in rs if not r["error"]]
            failed = sum(len(rs) for _, rs in cells) - len(good)
            lost = sum(r["lost"] or 0 for r in good)
            dropped = {f"{case.part} {case.label} T={case.threads}": sum(r["dropped"] or 0 for r in rs if not r["error"])
                       for case, rs in cells}
            dropped = {where: n for where, n in dropped.items() if n}
            print(f"  0 lines lost: {'met' if lost == 0 and not failed else 'NOT met'} ({lost:,.0f} of "
                  f"{sum(r['logged'] or 0 for r in good):,.0f} lines logged missing from the files, in its {len(good)} "
                  f"AsyncLogging runs"
                  + (f"; of them {sum(dropped.values()):,.0f} dropped on purpose and counted by the logger, in "
                     + ", ".join(f"{where} ({n:,.0f})" for where, n in dropped.items()) if dropped else "")
                  + (f"; {failed} runs FAILED" if failed else "") + ")")


def judge(figures, meets, show):
    """'met with 1 thread (91 ns), NOT met with 2 threads (120 ns)' from (threads, figure) pairs."""
    parts = []
    for t, value in figures:
        threads = f"{t} thread{'s' if t > 1 else ''}"
        parts.append(f"FAILED with {threads}" if value is None else
                     f"{'met' if meets(value) else 'NOT met'} with {threads} ({show(value)})")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
