#!/usr/bin/env python3
r"""The lesson tool: chores of a course made of self-contained lesson snapshots.

    lesson list                         lessons, their features and limitations
    lesson diff A [B]                   the code diff an instructor shows (A -> B)
    lesson check [--build] [LESSON...]  snapshot discipline (see `check --help`)
    lesson forward LESSON [PATH...]     carry a fix made in LESSON into later lessons
    lesson demos [--list] [--keep] [LESSON...]
                                        run the commands a README shows, compare their output

A lesson is a directory lessons/NN_name/. Its files are every file under it except those under a
directory whose name starts with "build" (build trees) and those git ignores. README.md and
lesson.toml at the top of a lesson change in every lesson, so they are left out of the code diff and
of the README's change list.

Standard library only (Python >= 3.11 for tomllib), so the tool runs wherever the course does.

Demos: the commands a README shows, checked
-------------------------------------------
A student copies the commands a lesson shows and expects the output shown; `lesson demos` runs the
marked ones and compares. A demo is an HTML comment (invisible on GitHub) followed by two fenced
blocks, the script and the output it prints:

    <!-- demo
    timeout: 20
    vary: 127\.0\.0\.1:\d+
    -->
    ```sh
    build/server --port 9877 & server=$!
    until nc -z 127.0.0.1 9877; do sleep 0.1; done   # until it listens
    echo hello | nc -N 127.0.0.1 9877
    kill $server; wait $server
    ```

    ```text
    listening on 127.0.0.1:9877
    ...
    hello
    ...
    ```

  - The comment starts with `<!-- demo` (outside any fenced block). Options follow on the same line
    (one) or on the following lines (one per line) until `-->`. Then, separated only by blank
    lines, a block opened with ```sh (the script), then, separated only by blank lines, a block
    opened with ``` or ```text (the expected output; may be empty).
  - Options:
      timeout: SECONDS       for the whole script (default 60; fractions allowed)
      vary: REGEX            repeatable: every match, in each expected and each actual line, is
                             replaced by <vary> before comparing
      range: REGEX LOW..HIGH repeatable: REGEX has exactly one group; where a line matches, the
                             group is replaced by <LOW..HIGH> in both, and the actual group must be
                             a number within LOW..HIGH, inclusive (floats allowed); one that is not
                             shows as <VALUE not in LOW..HIGH>
      unordered              compare the lines as multisets (output of concurrent processes)
    A REGEX (Python syntax) runs to the end of its line, for range to the last space before
    LOW..HIGH; leading and trailing spaces are dropped. Ranges apply before varies, each in the
    order given.
  - Expected output: a line of just `...` matches any number of actual lines, zero included
    (unordered: allows lines beyond the expected ones). Trailing whitespace of each line and blank
    lines at the end are ignored; otherwise lines must be equal after the substitutions.
  - Ports: every `--port N` (or `--port=N`) with 0 < N < 65536 in the script names a port the demo uses. For
    each distinct N a free port P is picked; the whole word N is replaced by P everywhere in the
    script, and P by N in the output before comparing. So a text shows a memorable port (9877) and
    a demo never collides with a server someone runs on it. Pick an N that means nothing else in
    the script.
  - Where: each lesson is copied alone (its files, no build trees) to <tmp>/lessons/NN_name, then
    `cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo` and `cmake --build build -j<nproc>`;
    a build failure fails the lesson's demos. Demos run with that directory as the current one
    (build/server, not lessons/NN_name/build/server), in document order, one after another. A
    lesson with a demo in section 1 gets the previous lesson copied and built beside it (a text
    shows the previous lesson's behaviour with ../09_connection/build/server). Each lesson is
    built at most once per run.
  - How: `bash --noprofile --norc SCRIPT` with stdin from /dev/null, stdout and stderr together into
    one file, in a new session, with the caller's environment plus LC_ALL=C. A demo fails when the
    output differs, when it runs out of time (its processes are killed), or when a process of its
    session is still running after the script exits (then killed: SIGTERM, then SIGKILL). So a
    demo that starts a server in the background must stop it and `wait`. The script's exit status
    is not compared: show it (`echo $?`) when it matters. A process that leaves the session
    (setsid, a daemon) escapes the checker.
  - Report: one line per demo, `NN_name: demo K (section S, README line L): ok (T s)`, where L is
    the line of the ```sh fence; a failure adds a unified diff (expected vs actual, after the
    substitutions, each `...` shown as the lines it stands for) and the end of the raw output.
    Every ```sh block of sections 1 and 4 that is not a demo is listed as a note, so what stays
    unchecked is visible. `lesson check` reports malformed markers (without running anything).
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

LESSON_DIR_RE = re.compile(r"^(\d{2})_([a-z0-9][a-z0-9_]*)$")

# Files that change in every lesson: never part of the code diff nor of the README's change list.
ALWAYS_CHANGING = ("README.md", "lesson.toml")

# A level-2 heading ("## 4. Run it"); a line starting with "###" is a deeper one.
HEADING2_RE = re.compile(r"^ {0,3}##(?:\s+(.*?))?\s*#*\s*$")

# The seven level-2 sections of a lesson README, in order; a heading must start with these words.
SECTIONS = (
    "1. The problem",
    "2. The idea",
    "3. The code",
    "4. Run it",
    "5. Test it",
    "6. What changed since lesson",
    "7. Exercises and further reading",
)
CHANGES_SECTION = 5  # index of "6. What changed since lesson" in SECTIONS

STATUSES = ("added", "modified", "removed")

# One entry of the change list: "- added `src/Poller.h`: why". The word is checked separately, so
# that a wrong word ("changed") is reported instead of silently ignored.
CHANGE_LINE_RE = re.compile(r"^\s{0,3}[-*+]\s+(?P<word>[A-Za-z]+)\s+`(?P<path>[^`]+)`(?P<rest>.*)$")

CPP_SUFFIXES = (".h", ".hh", ".hpp", ".c", ".cc", ".cpp", ".cxx")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"(?P<path>[^"]+)"')

# Where a CMake path that starts with one of these variables is anchored.
CMAKE_FILE_DIR_VARS = ("CMAKE_CURRENT_SOURCE_DIR", "CMAKE_CURRENT_LIST_DIR")
CMAKE_LESSON_ROOT_VARS = ("PROJECT_SOURCE_DIR", "CMAKE_SOURCE_DIR")
CMAKE_DOTDOT_TOKEN_RE = re.compile(r"""[^\s()"';]*\.\.[^\s()"';]*""")


class ToolError(Exception):
    """A usage error or failed command: reported on stderr with the exit code it carries."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------------
# The course on disk


@dataclass
class Lesson:
    number: int
    name: str
    path: Path
    meta: dict | None = None  # parsed lesson.toml, None when missing or not TOML
    meta_error: str | None = None

    def list_of(self, key: str) -> list[str]:
        """A list from lesson.toml, empty when the file is broken (that is reported elsewhere)."""
        value = (self.meta or {}).get(key, [])
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def retired(self) -> dict:
        value = (self.meta or {}).get("retired", {})
        return value if isinstance(value, dict) else {}


@dataclass
class Course:
    root: Path
    lessons: list[Lesson]
    strays: list[str]  # entries of lessons/ that are not lesson directories
    _files: dict[str, dict[str, Path]] = field(default_factory=dict)
    _ignored: set[Path] | None = None

    @classmethod
    def load(cls, root: Path) -> "Course":
        lessons_dir = root / "lessons"
        if not lessons_dir.is_dir():
            raise ToolError(f"no lessons/ directory under {root}")
        lessons, strays = [], []
        for entry in sorted(lessons_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            match = LESSON_DIR_RE.match(entry.name)
            if entry.is_dir() and match:
                lesson = Lesson(int(match.group(1)), entry.name, entry)
                load_meta(lesson)
                lessons.append(lesson)
            else:
                strays.append(entry.name)
        lessons.sort(key=lambda l: (l.number, l.name))
        return cls(root, lessons, strays)

    def find(self, spec: str) -> Lesson:
        """A lesson named by number ("3", "03"), directory name ("03_epoll") or path."""
        key = PurePosixPath(spec.rstrip("/")).name
        for lesson in self.lessons:
            if key == lesson.name or (key.isdigit() and int(key) == lesson.number):
                return lesson
        known = ", ".join(l.name for l in self.lessons) or "none"
        raise ToolError(f"no lesson {spec!r} (lessons: {known})")

    def previous(self, lesson: Lesson) -> Lesson | None:
        """The lesson numbered one less, if it exists (a gap is reported by check)."""
        return next((l for l in self.lessons if l.number == lesson.number - 1), None)

    def later(self, lesson: Lesson) -> list[Lesson]:
        return [l for l in self.lessons if l.number > lesson.number]

    def files(self, lesson: Lesson) -> dict[str, Path]:
        """The lesson's files: lesson-relative POSIX path -> absolute path."""
        if lesson.name not in self._files:
            found = {}
            for path in walk_lesson(lesson.path):
                if path not in self.ignored():
                    found[path.relative_to(lesson.path).as_posix()] = path
            self._files[lesson.name] = dict(sorted(found.items()))
        return self._files[lesson.name]

    def ignored(self) -> set[Path]:
        """Every file under lessons/ that git ignores, asked once for the whole tree."""
        if self._ignored is None:
            candidates = [p for l in self.lessons for p in walk_lesson(l.path)]
            self._ignored = git_ignored(self.root, candidates)
        return self._ignored


def walk_lesson(lesson_dir: Path) -> list[Path]:
    """Every file of a lesson directory, build trees and .git left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(lesson_dir):
        # Build trees are not part of a lesson: prune them, also when nested (build-asan/, ...).
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("build") and d != ".git")
        base = Path(dirpath)
        found.extend(base / name for name in sorted(filenames))
        # os.walk does not descend into symlinked directories; list the link itself as a file.
        found.extend(base / d for d in dirnames if (base / d).is_symlink())
    return found


def git_ignored(root: Path, paths: list[Path]) -> set[Path]:
    """The subset of paths that git ignores; empty when root is not in a git work tree."""
    if not paths:
        return set()
    stdin = b"\0".join(os.fsencode(str(p.relative_to(root))) for p in paths)
    try:
        proc = subprocess.run(["git", "check-ignore", "--stdin", "-z"], cwd=root, input=stdin,
                              capture_output=True)
    except FileNotFoundError:
        return set()
    if proc.returncode not in (0, 1):  # 128: not a git repository, nothing is ignored
        return set()
    return {root / os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}


def load_meta(lesson: Lesson) -> None:
    toml_path = lesson.path / "lesson.toml"
    if not toml_path.is_file():
        lesson.meta_error = "lesson.toml is missing"
        return
    try:
        lesson.meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        lesson.meta_error = f"lesson.toml is not valid TOML: {err}"


def load_vocabulary(root: Path) -> tuple[set[str] | None, str | None]:
    """The feature names of tools/features.toml, or an error message."""
    path = root / "tools" / "features.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "tools/features.toml is missing"
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        return None, f"tools/features.toml is not valid TOML: {err}"
    features = data.get("features")
    if not isinstance(features, dict) or not features:
        return None, "tools/features.toml has no [features] table"
    return set(features), None


def changes_between(course: Course, old: Lesson | None, new: Lesson) -> dict[str, str]:
    """path -> added/modified/removed, from old to new (old None: everything is added).

    README.md and lesson.toml at the top level are left out: they change in every lesson."""
    old_files = course.files(old) if old else {}
    new_files = course.files(new)
    changes = {}
    for rel in sorted(set(old_files) | set(new_files)):
        if rel in ALWAYS_CHANGING:
            continue
        if rel not in old_files:
            changes[rel] = "added"
        elif rel not in new_files:
            changes[rel] = "removed"
        elif old_files[rel].read_bytes() != new_files[rel].read_bytes():
            changes[rel] = "modified"
    return changes


# --------------------------------------------------------------------------------------------------
# list


def cmd_list(course: Course, args: argparse.Namespace) -> int:
    rows = [("#", "name", "title", "features", "limitations")]
    for lesson in course.lessons:
        if lesson.meta is None:
            rows.append((f"{lesson.number:02d}", lesson.name, f"({lesson.meta_error})", "", ""))
            continue
        title = lesson.meta.get("title", "")
        rows.append((f"{lesson.number:02d}", lesson.name, str(title),
                     " ".join(lesson.list_of("features")) or "-",
                     " ".join(lesson.list_of("limitations")) or "-"))
    print_table(rows, wrap_columns={3: 44, 4: 30})
    return 0


def print_table(rows: list[tuple[str, ...]], wrap_columns: dict[int, int]) -> None:
    """Rows in aligned columns; long cells of wrap_columns wrap onto continuation lines."""
    wrapped = [[textwrap.wrap(cell, wrap_columns[i], break_long_words=False) or [""]
                if i in wrap_columns else [cell] for i, cell in enumerate(row)] for row in rows]
    widths = [max(len(line) for row in wrapped for line in row[i]) for i in range(len(rows[0]))]
    for row in wrapped:
        for n in range(max(len(cell) for cell in row)):
            parts = [(cell[n] if n < len(cell) else "").ljust(widths[i]) for i, cell in enumerate(row)]
            print("  ".join(parts).rstrip())


# --------------------------------------------------------------------------------------------------
# diff


def cmd_diff(course: Course, args: argparse.Namespace) -> int:
    if args.b is None:  # "diff 4": what lesson 4 changed
        new = course.find(args.a)
        old = course.previous(new)
        if old is None:
            raise ToolError(f"{new.name} has no previous lesson; name both: diff A B")
    else:
        old, new = course.find(args.a), course.find(args.b)
    sys.stdout.write(unified_diff(course, old, new, include_all=args.all))
    return 0


def unified_diff(course: Course, old: Lesson, new: Lesson, include_all: bool) -> str:
    """What `diff -ruN old new` prints run from the repository root, minus timestamps, over the
    lessons' own files (build trees and ignored files left out)."""
    old_files, new_files = course.files(old), course.files(new)
    out = []
    for rel in sorted(set(old_files) | set(new_files)):
        if rel in ALWAYS_CHANGING and not include_all:
            continue
        a, b = old.path / rel, new.path / rel
        if rel in old_files and rel in new_files and a.read_bytes() == b.read_bytes():
            continue
        label_a = (a.relative_to(course.root)).as_posix()
        label_b = (b.relative_to(course.root)).as_posix()
        # -N: a file missing on one side diffs as empty, so additions and removals show in full.
        proc = subprocess.run(["diff", "-uN", "--label", label_a, "--label", label_b,
                               str(a if rel in old_files else os.devnull),
                               str(b if rel in new_files else os.devnull)],
                              capture_output=True)
        if proc.returncode > 1:
            raise ToolError(f"diff failed on {rel}: {proc.stderr.decode(errors='replace')}", 1)
        out.append(f"diff -ruN {label_a} {label_b}\n")
        out.append(proc.stdout.decode("utf-8", errors="replace"))
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# check


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")
        print(f"{where}: {message}", flush=True)

    def note(self, where: str, message: str) -> None:
        print(f"{where}: note: {message}", flush=True)


def cmd_check(course: Course, args: argparse.Namespace) -> int:
    selected = selected_lessons(course, args.lessons)
    report = Report()
    vocabulary, vocab_error = load_vocabulary(course.root)
    if vocab_error:
        report.problem("tools", vocab_error)
    check_layout(course, report)
    for lesson in selected:
        check_toml(lesson, vocabulary, report)
        check_readme(course, lesson, report)
        check_quoted_code(course, lesson, report)
        check_demo_markers(lesson, report)
        check_self_contained(course, lesson, report)
        check_features_accumulate(course, lesson, report)
        check_limitations(course, lesson, report)
    if args.build:
        for lesson in selected:
            build_lesson(course, lesson, report)
    print(f"check: {len(selected)} lessons, {len(report.problems)} problems")
    return 1 if report.problems else 0


def check_layout(course: Course, report: Report) -> None:
    """Lesson directories are named NN_name and numbered 1, 2, 3 ... without gaps or twins."""
    for stray in course.strays:
        report.problem("lessons", f"{stray!r} is not a lesson directory (expected NN_name)")
    if not course.lessons:
        report.problem("lessons", "no lesson directories")
        return
    numbers = [l.number for l in course.lessons]
    for n in sorted(set(numbers)):
        if numbers.count(n) > 1:
            twins = ", ".join(l.name for l in course.lessons if l.number == n)
            report.problem("lessons", f"several lessons numbered {n:02d}: {twins}")
    missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
    if missing:
        report.problem("lessons", "lesson numbers must run from 1 without gaps; missing: "
                       + ", ".join(f"{n:02d}" for n in missing))


def check_toml(lesson: Lesson, vocabulary: set[str] | None, report: Report) -> None:
    if lesson.meta is None:
        report.problem(lesson.name, lesson.meta_error or "lesson.toml is unreadable")
        return
    for message in toml_schema_errors(lesson, vocabulary):
        report.problem(lesson.name, f"lesson.toml: {message}")


def toml_schema_errors(lesson: Lesson, vocabulary: set[str] | None) -> list[str]:
    meta, errors = lesson.meta or {}, []

    def typed(key: str, kind: type, what: str) -> bool:
        # bool is a subclass of int in Python: `number = true` must not pass as a number.
        value = meta.get(key)
        if key not in meta:
            errors.append(f"'{key}' is missing ({what})")
        elif type(value) is not kind:
            errors.append(f"'{key}' must be {what}, not {type(value).__name__}")
        else:
            return True
        return False

    def string_list(key: str, allow_empty: bool) -> bool:
        if not typed(key, list, "a list of strings"):
            return False
        if not all(isinstance(v, str) for v in meta[key]):
            errors.append(f"'{key}' must hold only strings")
            return False
        if not allow_empty and not meta[key]:
            errors.append(f"'{key}' must not be empty")
        return True

    if typed("number", int, "an integer") and meta["number"] != lesson.number:
        errors.append(f"number = {meta['number']}, but the directory says {lesson.number}")
    if typed("name", str, "a string") and meta["name"] != lesson.name:
        errors.append(f"name = {meta['name']!r}, but the directory is {lesson.name!r}")
    if typed("title", str, "a string") and not meta["title"].strip():
        errors.append("'title' is empty")
    string_list("components", allow_empty=False)
    has_executables = string_list("executables", allow_empty=False)
    if typed("server", str, "a string") and has_executables and meta["server"] not in meta["executables"]:
        errors.append(f"server = {meta['server']!r} is not one of the executables")
    typed("threads", bool, "true or false")
    lists = {key: meta[key] for key in ("features", "limitations") if string_list(key, allow_empty=True)}
    for key, names in lists.items():
        for name in sorted({n for n in names if names.count(n) > 1}):
            errors.append(f"{key} lists {name!r} more than once")
        if vocabulary is not None:
            for name in names:
                if name not in vocabulary:
                    errors.append(f"{key}: {name!r} is not in tools/features.toml")
    if len(lists) == 2:
        for name in sorted(set(lists["features"]) & set(lists["limitations"])):
            errors.append(f"{name!r} is both a feature and a limitation")
    if "server_args" in meta:
        string_list("server_args", allow_empty=True)
    if "retired" in meta:
        retired = meta["retired"]
        if not isinstance(retired, dict):
            errors.append("'retired' must be a table: feature = \"reason\"")
        else:
            for name, reason in retired.items():
                if not isinstance(reason, str) or not reason.strip():
                    errors.append(f"retired {name!r} needs a reason (a non-empty string)")
                # It may also be a limitation (the lesson then must fail it), never a feature.
                if name in lists.get("features", []):
                    errors.append(f"{name!r} is retired and still a feature")
    return errors


def check_readme(course: Course, lesson: Lesson, report: Report) -> None:
    readme = lesson.path / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.problem(lesson.name, "README.md is missing")
        return
    except UnicodeDecodeError:
        report.problem(lesson.name, "README.md is not UTF-8")
        return
    sections = split_sections(text)
    check_section_headings(lesson, [title for title, _ in sections], report)
    # The change list is checked even when other sections are missing or out of order.
    changes = [s for s in sections if s[0].startswith(SECTIONS[CHANGES_SECTION])]
    if changes:
        heading, body = changes[0]
        check_changes_heading(lesson, heading, report)
        check_change_list(course, lesson, body, report)


# A fenced block of C++ or CMake in a README quotes the lesson's code (or, in "The problem", the
# previous lesson's). Pseudo-code belongs in a ```text block.
QUOTED_CODE_RE = re.compile(r"^```(?:cpp|c\+\+|cmake)[ \t]*\n(.*?)^```", re.M | re.S)
QUOTE_ELISIONS = {"...", "// ..."}
CODE_SUFFIXES = CPP_SUFFIXES + (".cmake", ".txt")


def code_lines(course: Course, lesson: Lesson | None) -> set[str]:
    """Every line of the lesson's code files, whitespace folded."""
    lines: set[str] = set()
    if lesson is None:
        return lines
    for path in course.files(lesson).values():
        if path.suffix in CODE_SUFFIXES:
            lines.update(fold_space(line) for line in read_text_lines(path))
    return lines


def fold_space(line: str) -> str:
    return " ".join(line.split())


def check_quoted_code(course: Course, lesson: Lesson, report: Report) -> None:
    """Code quoted in the README must be the lesson's own (or the previous lesson's): a quote that
    drifted from the code it explains teaches something the course no longer does."""
    readme = lesson.path / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return  # reported by check_readme
    known = code_lines(course, lesson) | code_lines(course, course.previous(lesson))
    for block in QUOTED_CODE_RE.finditer(text):
        for line in block.group(1).splitlines():
            folded = fold_space(line)
            if folded and folded not in QUOTE_ELISIONS and folded not in known:
                report.problem(lesson.name, f"README quotes code that is in neither this lesson nor the "
                                            f"previous one: {line.strip()!r}")


def check_demo_markers(lesson: Lesson, report: Report) -> None:
    """Every `<!-- demo` marker is well-formed (parsed only: nothing is built or run)."""
    for demo in read_demos(lesson).demos:
        for error in demo.errors:
            report.problem(lesson.name, f"README line {demo.marker_line}: demo {demo.number}: {error}")


def split_sections(text: str) -> list[tuple[str, list[str]]]:
    """The README's level-2 sections: (heading text, body lines), fenced code left out."""
    sections: list[tuple[str, list[str]]] = []
    for line in unfenced_lines(text):
        match = HEADING2_RE.match(line)
        if match and not line.lstrip().startswith("###"):
            sections.append(((match.group(1) or "").strip(), []))
        elif sections:
            sections[-1][1].append(line)
    return sections


def unfenced_lines(text: str) -> list[str]:
    """Markdown lines outside ``` / ~~~ fences, where a '## ' is a shell comment, not a heading."""
    lines, fence = [], None
    for line in text.splitlines():
        match = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip()[len(match.group(1)):].strip():
                fence = None
        else:
            lines.append(line)
    return lines


def check_section_headings(lesson: Lesson, headings: list[str], report: Report) -> None:
    """Exactly the seven sections, in order."""
    for expected in SECTIONS:
        count = sum(h.startswith(expected) for h in headings)
        if count > 1:
            report.problem(lesson.name, f"README: section '## {expected}...' appears {count} times")
    for i, expected in enumerate(SECTIONS):
        if i < len(headings) and headings[i].startswith(expected):
            continue
        where = next((j for j, h in enumerate(headings) if h.startswith(expected)), None)
        if where is None:
            report.problem(lesson.name, f"README: no section '## {expected}...'")
        else:
            report.problem(lesson.name, f"README: section '## {expected}...' is out of order "
                           f"(it is level-2 heading {where + 1}, expected {i + 1})")
    for heading in headings:
        if not any(heading.startswith(expected) for expected in SECTIONS):
            report.problem(lesson.name, f"README: unexpected section '## {heading}' "
                           "(a lesson README has exactly the seven numbered sections)")


def check_changes_heading(lesson: Lesson, heading: str, report: Report) -> None:
    """'6. What changed since lesson N' names the previous number (0 for lesson 1)."""
    rest = heading[len(SECTIONS[CHANGES_SECTION]):]
    match = re.match(r"\s+(\d+)", rest)
    expected = lesson.number - 1
    if not match or int(match.group(1)) != expected:
        report.problem(lesson.name, f"README: section 6 must be titled "
                       f"'What changed since lesson {expected:02d}', not '{heading}'")


def parse_change_list(body: list[str]) -> list[tuple[str, str, str, str]]:
    """(word, path, rest, line) of every bullet shaped like '- word `path`...'."""
    entries = []
    for line in body:
        match = CHANGE_LINE_RE.match(line)
        if match:
            path = match.group("path").strip()
            path = path[2:] if path.startswith("./") else path
            entries.append((match.group("word"), path, match.group("rest"), line.strip()))
    return entries


def check_change_list(course: Course, lesson: Lesson, body: list[str], report: Report) -> None:
    """Section 6 lists every added, modified and removed file, with the right word and a reason."""
    previous = course.previous(lesson)
    if previous is None and lesson.number != 1:
        return  # the gap in the numbering is reported; there is nothing to diff against
    actual = changes_between(course, previous, lesson)
    known_paths = set(course.files(lesson)) | (set(course.files(previous)) if previous else set())
    since = f"since {previous.name}" if previous else "(lesson 1 adds every file)"
    listed: dict[str, str] = {}
    for word, path, rest, line in parse_change_list(body):
        status = word.lower()
        if status not in STATUSES:
            # Prose bullets may start with a word and a `command`; only flag real lesson files.
            if path in known_paths:
                report.problem(lesson.name, f"README: section 6: '{word}' `{path}` is not a status "
                               "word (use added, modified or removed)")
            continue
        if not rest.lstrip().startswith(":") or not rest.lstrip()[1:].strip():
            report.problem(lesson.name, f"README: section 6: `{path}` needs a reason: "
                           f"'- {status} `{path}`: why' (got: {line})")
        if path in listed:
            report.problem(lesson.name, f"README: section 6 lists `{path}` twice")
            continue
        listed[path] = status
    for path, status in actual.items():
        if path not in listed:
            report.problem(lesson.name, f"README: section 6 does not list {status} `{path}`")
        elif listed[path] != status:
            report.problem(lesson.name, f"README: section 6 says {listed[path]} `{path}`, "
                           f"but it was {status} {since}")
    for path, status in listed.items():
        if path in actual:
            continue
        if path in ALWAYS_CHANGING:
            report.problem(lesson.name, f"README: section 6 lists `{path}`, which changes in every "
                           "lesson and is never listed")
        elif path in known_paths:
            report.problem(lesson.name, f"README: section 6 lists {status} `{path}`, but it did not "
                           f"change {since}")
        else:
            report.problem(lesson.name, f"README: section 6 lists {status} `{path}`, which is in "
                           "neither lesson")


def check_self_contained(course: Course, lesson: Lesson, report: Report) -> None:
    """No file refers outside the lesson: the directory must build when copied anywhere alone."""
    root = lesson.path.resolve()
    for rel, path in course.files(lesson).items():
        if path.is_symlink():
            if not is_inside(path.resolve(), root):
                report.problem(lesson.name, f"`{rel}` is a symlink to outside the lesson")
            continue
        if path.name == "CMakeLists.txt" or path.suffix == ".cmake":
            for lineno, token, why in cmake_escapes(path, root):
                report.problem(lesson.name, f"`{rel}` line {lineno}: {token} {why}")
        elif path.suffix in CPP_SUFFIXES:
            for lineno, include in include_escapes(path, root):
                report.problem(lesson.name, f"`{rel}` line {lineno}: #include \"{include}\" "
                               "refers outside the lesson")


def is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def escapes(base: Path, relative: str, root: Path) -> bool:
    """True when base/relative, with '..' applied lexically, leaves root."""
    return not is_inside(Path(os.path.normpath(base / relative)), root)


def include_escapes(path: Path, root: Path) -> list[tuple[int, str]]:
    found = []
    for lineno, line in enumerate(read_text_lines(path), start=1):
        match = INCLUDE_RE.match(line)
        if not match:
            continue
        include = match.group("path")
        # An include with '..' is resolved from the including file, as the compiler first does.
        if include.startswith("/") or (".." in PurePosixPath(include).parts
                                       and escapes(path.parent.resolve(), include, root)):
            found.append((lineno, include))
    return found


def cmake_escapes(path: Path, root: Path) -> list[tuple[int, str, str]]:
    """CMake tokens whose '..' segments lead out of the lesson."""
    found = []
    for lineno, line in enumerate(read_text_lines(path), start=1):
        for token in CMAKE_DOTDOT_TOKEN_RE.findall(strip_cmake_comment(line)):
            if ".." not in token.split("/"):
                continue  # "1.2...3.4" or "Building..." are not paths
            base, rest = path.parent.resolve(), token
            var = re.match(r"^\$\{(\w+)\}/?", token)
            if var:
                rest = token[var.end():]
                if var.group(1) in CMAKE_LESSON_ROOT_VARS:
                    base = root
                elif var.group(1) not in CMAKE_FILE_DIR_VARS:
                    found.append((lineno, token, f"uses '..' after ${{{var.group(1)}}}, which may "
                                  "lead outside the lesson"))
                    continue
            elif token.startswith("/"):
                base, rest = Path("/"), token
            if escapes(base, rest, root):
                found.append((lineno, token, "refers outside the lesson"))
    return found


def strip_cmake_comment(line: str) -> str:
    """The line up to a '#' that is not inside a quoted argument."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:i]
    return line


def read_text_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def check_features_accumulate(course: Course, lesson: Lesson, report: Report) -> None:
    """Every feature of lesson N-1 stays a feature of lesson N unless N's [retired] names it."""
    if lesson.meta is None:
        return
    previous = course.previous(lesson)
    retired = lesson.retired()
    if previous is None:
        for name in retired:
            report.problem(lesson.name, f"lesson.toml retires {name!r}, but there is no previous "
                           "lesson to have had it")
        return
    if previous.meta is None:
        return
    before, now = set(previous.list_of("features")), set(lesson.list_of("features"))
    for name in sorted(before - now - set(retired)):
        report.problem(lesson.name, f"feature {name!r} of {previous.name} is dropped; keep it, or "
                       "name it in [retired] with the reason")
    for name in sorted(set(retired) - before):
        report.problem(lesson.name, f"lesson.toml retires {name!r}, which {previous.name} does not "
                       "have as a feature")


def check_limitations(course: Course, lesson: Lesson, report: Report) -> None:
    """A limitation stays one, lesson after lesson, until a later lesson makes it a feature.

    Checked pairwise (lesson N-1's limitations must be N's features or limitations), so a broken
    chain is reported once, at the lesson that breaks it. A chain that reaches the last existing
    lesson is only a note: the lesson that removes it may not be written yet."""
    if lesson.meta is None:
        return
    previous = course.previous(lesson)
    if previous is not None and previous.meta is not None:
        kept = set(lesson.list_of("features")) | set(lesson.list_of("limitations"))
        for name in previous.list_of("limitations"):
            if name not in kept:
                report.problem(lesson.name, f"limitation {name!r} of {previous.name} vanished: it "
                               "must stay a limitation until a lesson makes it a feature")
    for name in lesson.list_of("limitations"):
        if previous is not None and name in previous.list_of("limitations"):
            continue  # not the start of its chain: noted (if at all) where it started
        if not removed_later(course, lesson, name):
            report.note(lesson.name, f"limitation {name!r} is not a feature of any later lesson yet")


def removed_later(course: Course, lesson: Lesson, name: str) -> bool:
    """True when a later lesson makes the limitation a feature (or the chain breaks: reported)."""
    current = lesson
    while True:
        following = next((l for l in course.lessons if l.number == current.number + 1), None)
        if following is None or following.meta is None:
            return False
        if name in following.list_of("features"):
            return True
        if name not in following.list_of("limitations"):
            return True  # the break is a problem reported at `following`; no note on top of it
        current = following


def build_steps(targets: list[str] | None = None) -> list[list[str]]:
    """Configure and build a lesson copied alone, as a student does (run in the lesson's copy):
    everything, or only `targets` (the demos need the lesson's programs, not its unit tests)."""
    jobs = str(os.cpu_count() or 1)
    build = ["cmake", "--build", "build", f"-j{jobs}"]
    if targets:
        build += ["--target", *targets]
    return [
        ["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
        build,
    ]


def copy_lesson(course: Course, lesson: Lesson, dest: Path) -> None:
    """The lesson's files (no build trees, nothing git ignores) copied to dest."""
    for rel, path in course.files(lesson).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel, follow_symlinks=False)


def build_lesson(course: Course, lesson: Lesson, report: Report) -> None:
    """Copy the lesson alone into a fresh directory, configure, build and run its tests."""
    steps = build_steps() + [["ctest", "--test-dir", "build", "--output-on-failure"]]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"lesson-{lesson.name}-") as tmp:
        copy = Path(tmp) / lesson.name
        copy_lesson(course, lesson, copy)
        log = []
        for step in steps:
            code = run_logged(step, copy, log)
            if code != 0:
                elapsed = time.monotonic() - started
                report.problem(lesson.name, f"build: `{' '.join(step)}` "
                               f"{'timed out' if code is None else f'exited {code}'} "
                               f"({elapsed:.1f} s) in a standalone copy; the log ends with:")
                tail = "".join(log).splitlines()[-40:]
                print("\n".join(f"    | {line}" for line in tail), flush=True)
                return
    print(f"{lesson.name}: build and tests ok ({time.monotonic() - started:.1f} s)", flush=True)


def run_logged(command: list[str], cwd: Path, log: list[str], timeout: int = 1800) -> int | None:
    """Run a build step, appending its output to log; its exit code, or None on timeout."""
    log.append(f"$ {' '.join(command)}\n")
    try:
        proc = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
    except FileNotFoundError:
        log.append(f"{command[0]}: command not found\n")
        return 127
    except subprocess.TimeoutExpired as err:
        log.append((err.stdout or b"").decode(errors="replace"))
        return None
    log.append(proc.stdout.decode(errors="replace"))
    return proc.returncode


# --------------------------------------------------------------------------------------------------
# demos: the commands a README shows, run in a lone copy of the lesson and compared with the output
# the README shows (the format is in the module docstring)

DEMO_MARKER_RE = re.compile(r"^ {0,3}<!--\s*demo(?![\w-])(?P<rest>.*)$")
FENCE_OPEN_RE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
FENCE_CLOSE_RE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*$")
DEMO_OPTIONS = "timeout: SECONDS, vary: REGEX, range: REGEX LOW..HIGH, unordered"
DEMO_DEFAULT_TIMEOUT = 60.0
RANGE_BOUNDS_RE = re.compile(r"^(?P<low>[-+]?\d+(?:\.\d+)?)\.\.(?P<high>[-+]?\d+(?:\.\d+)?)$")
NUMBER_RE = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
PORT_OPTION_RE = re.compile(r"--port(?:[ \t]+|=)(\d+)(?!\w)")
ELLIPSIS = "..."
VARY_PLACEHOLDER = "<vary>"
# Sections whose shell blocks show a run the text relies on: an unmarked one is listed as a note.
NOTED_SECTIONS = (1, 4)
TERM_GRACE = 2.0  # seconds a leftover process gets to exit after SIGTERM
KILL_BOUND = 5.0  # seconds to wait after SIGKILL (longer only for a process stuck in the kernel)
OUTPUT_TAIL_LINES = 20
DIFF_ALIGN_LIMIT = 250_000  # expected x actual lines beyond which `...` is not expanded in a diff


@dataclass
class DemoRange:
    regex: re.Pattern
    low: float
    high: float
    text: str  # "LOW..HIGH" as written


@dataclass
class Demo:
    number: int  # 1, 2, ... in document order; malformed markers count too
    section: int | None  # the number of the level-2 section holding it
    marker_line: int  # README line of `<!-- demo`
    script_line: int = 0  # README line of the ```sh fence; 0 when the marker is malformed
    expected_line: int = 0
    script: str = ""
    expected: list[str] = field(default_factory=list)
    timeout: float = DEMO_DEFAULT_TIMEOUT
    varies: list[re.Pattern] = field(default_factory=list)
    ranges: list[DemoRange] = field(default_factory=list)
    unordered: bool = False
    errors: list[str] = field(default_factory=list)  # why the marker is malformed

    def where(self) -> str:
        section = f"section {self.section}, " if self.section is not None else ""
        return f"demo {self.number} ({section}README line {self.script_line or self.marker_line})"


@dataclass
class ReadmeDemos:
    demos: list[Demo] = field(default_factory=list)
    unmarked: list[tuple[int, int]] = field(default_factory=list)  # (line, section): ```sh, no demo


@dataclass
class Fence:
    info: str  # the first word of the info string: "sh", "text", "" ...
    line: int  # README line of the opening fence
    body: list[str]
    end: int  # index of the line after the block
    closed: bool


def read_demos(lesson: Lesson) -> ReadmeDemos:
    try:
        return parse_demos((lesson.path / "README.md").read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError):
        return ReadmeDemos()  # reported by check_readme


def parse_demos(text: str) -> ReadmeDemos:
    """The demo markers of a README, and its unmarked ```sh blocks in sections 1 and 4."""
    lines = text.splitlines()
    found = ReadmeDemos()
    section: int | None = None
    i = 0
    while i < len(lines):
        fence = read_fence(lines, i)
        if fence is not None:  # a marker or heading inside a code block is code
            if fence.info == "sh" and section in NOTED_SECTIONS:
                found.unmarked.append((fence.line, section))
            i = fence.end
            continue
        heading = HEADING2_RE.match(lines[i])
        if heading and not lines[i].lstrip().startswith("###"):
            number = re.match(r"(\d+)\.", heading.group(1) or "")
            section = int(number.group(1)) if number else None
        elif DEMO_MARKER_RE.match(lines[i]):
            demo, i = parse_demo(lines, i, len(found.demos) + 1, section)
            found.demos.append(demo)
            continue
        i += 1
    return found


def read_fence(lines: list[str], i: int) -> Fence | None:
    """The fenced block that opens at lines[i], None when no fence opens there."""
    opening = FENCE_OPEN_RE.match(lines[i])
    if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
        return None  # CommonMark: the info string of a backtick fence holds no backtick
    fence, indent, words = opening["fence"], len(opening["indent"]), opening["info"].split()
    info = words[0] if words else ""
    body = []
    for j in range(i + 1, len(lines)):
        closing = FENCE_CLOSE_RE.match(lines[j])
        if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence):
            return Fence(info, i + 1, body, j + 1, True)
        # The opening fence's indentation is not part of the content (CommonMark).
        line = lines[j]
        body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
    return Fence(info, i + 1, body, len(lines), False)


def next_fence(lines: list[str], i: int) -> Fence | None:
    """The fenced block after blank lines from lines[i] on; None when something else comes first."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return read_fence(lines, i) if i < len(lines) else None


def parse_demo(lines: list[str], start: int, number: int, section: int | None) -> tuple[Demo, int]:
    """The demo whose marker is lines[start], and the index of the line after it.

    A malformed demo carries its errors. When its blocks are missing, parsing goes on right after
    the comment, so that what follows is read as ordinary text."""
    demo = Demo(number, section, start + 1)
    rest = DEMO_MARKER_RE.match(lines[start])["rest"]
    options, i = [], start
    while "-->" not in rest:
        options.append(rest)
        i += 1
        if i == len(lines):
            demo.errors.append("the comment is not closed with -->")
            return demo, i
        rest = lines[i]
    last, _, after = rest.partition("-->")
    options.append(last)
    if after.strip():
        demo.errors.append(f"text after --> on line {i + 1}; the blocks go on lines of their own")
    i += 1
    parse_demo_options(demo, [option.strip() for option in options if option.strip()])

    script = next_fence(lines, i)
    if script is None or script.info != "sh":
        demo.errors.append("the comment must be followed, after blank lines only, by a ```sh block "
                           "(the script)")
        return demo, i
    expected = next_fence(lines, script.end) if script.closed else None
    if expected is None or expected.info not in ("", "text") or not expected.closed:
        demo.errors.append(f"the ```sh block (line {script.line}) must be followed, after blank lines "
                           "only, by a closed ``` or ```text block (the expected output)")
        return demo, i
    demo.script_line, demo.expected_line = script.line, expected.line
    demo.script, demo.expected = "\n".join(script.body) + "\n", expected.body
    return demo, expected.end


def parse_demo_options(demo: Demo, options: list[str]) -> None:
    """Fill the demo from its option lines; what is wrong goes to demo.errors."""
    timeout_given = False
    for option in options:
        name, colon, value = option.partition(":")
        name, value = name.strip(), value.strip()
        if name == "unordered":
            if colon:
                demo.errors.append(f"'unordered' takes no value (got {option!r})")
            demo.unordered = True
        elif not colon or name not in ("timeout", "vary", "range"):
            demo.errors.append(f"unknown option {option!r} (options: {DEMO_OPTIONS})")
        elif name == "timeout":
            seconds = float(value) if NUMBER_RE.match(value) else math.nan
            if timeout_given:
                demo.errors.append("timeout is given twice")
            elif not seconds > 0:  # nan compares false
                demo.errors.append(f"timeout: {value!r} is not a positive number of seconds")
            else:
                demo.timeout = seconds
            timeout_given = True
        elif name == "vary":
            regex = demo_regex("vary", value, demo.errors)
            if regex is not None:
                demo.varies.append(regex)
        else:
            parts = value.rsplit(None, 1)
            bounds = RANGE_BOUNDS_RE.match(parts[1]) if len(parts) == 2 else None
            if bounds is None:
                demo.errors.append(f"range: {value!r} is not 'REGEX LOW..HIGH'")
                continue
            low, high = float(bounds["low"]), float(bounds["high"])
            regex = demo_regex("range", parts[0], demo.errors)
            if low > high:
                demo.errors.append(f"range: {parts[1]} is empty (LOW > HIGH)")
            elif regex is not None and regex.groups != 1:
                demo.errors.append(f"range: {parts[0]!r} must have exactly one group, the number "
                                   f"(it has {regex.groups}; use (?:...) for others)")
            elif regex is not None:
                demo.ranges.append(DemoRange(regex, low, high, parts[1]))


def demo_regex(option: str, pattern: str, errors: list[str]) -> re.Pattern | None:
    if not pattern:
        errors.append(f"{option}: the regex is missing")
        return None
    try:
        regex = re.compile(pattern)
    except re.error as err:
        errors.append(f"{option}: bad regex {pattern!r}: {err}")
        return None
    if regex.match("") is not None:
        errors.append(f"{option}: {pattern!r} matches the empty string, so it matches everywhere")
        return None
    return regex


# Comparing the output


def compare_output(demo: Demo, actual_text: str) -> tuple[bool, list[str]]:
    """Whether the actual output matches the demo's expected output, and if not, the diff."""
    expected = normalised_lines(demo, demo.expected, actual=False)
    actual = normalised_lines(demo, actual_text.splitlines(), actual=True)
    sorted_ = ", sorted" if demo.unordered else ""
    labels = (f"expected (README line {demo.expected_line}, after substitutions{sorted_})",
              f"actual (after substitutions{sorted_})")
    if demo.unordered:
        wanted, got = Counter(line for line in expected if line is not None), Counter(actual)
        extra_allowed = None in expected  # `...`: lines beyond the expected ones are fine
        if (wanted <= got) if extra_allowed else (wanted == got):
            return True, []
        # Sorted, so that the diff shows only what is missing and what is too much.
        before = sorted((wanted + (got - wanted) if extra_allowed else wanted).elements())
        after = sorted(actual)
    else:
        if lines_match(expected, actual):
            return True, []
        before, after = expand_ellipses(expected, actual), actual
    diff = difflib.unified_diff(before, after, *labels, lineterm="")
    return False, list(diff)


def normalised_lines(demo: Demo, lines: list[str], actual: bool) -> list[str | None]:
    """Lines ready to compare: trailing whitespace and blank lines at the end dropped, ranges and
    then varies substituted. In the expected output, None stands for a `...` line."""
    out: list[str | None] = []
    for line in lines:
        line = line.rstrip()
        if not actual and line.strip() == ELLIPSIS:
            out.append(None)
            continue
        for bounds in demo.ranges:
            line = substitute_range(line, bounds, check=actual)
        for regex in demo.varies:
            line = regex.sub(VARY_PLACEHOLDER, line)
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


def substitute_range(line: str, bounds: DemoRange, check: bool) -> str:
    """Each match's group replaced by <LOW..HIGH>; with check, a group that is not a number within
    the bounds by <VALUE not in LOW..HIGH> instead, so that the diff shows it."""
    pieces, last = [], 0
    for match in bounds.regex.finditer(line):
        start, end = match.span(1)
        if start < 0:
            continue  # the group took no part in this match
        value = match.group(1)
        within = NUMBER_RE.match(value) is not None and bounds.low <= float(value) <= bounds.high
        placeholder = f"<{bounds.text}>" if within or not check else f"<{value} not in {bounds.text}>"
        pieces += [line[last:start], placeholder]
        last = end
    return "".join(pieces) + line[last:]


def lines_match(expected: list[str | None], actual: list[str]) -> bool:
    """Whether actual matches expected, where None (`...`) matches any number of lines.

    The greedy wildcard match: on a mismatch, the latest `...` takes one more line and matching
    resumes after it. Exact for patterns whose only wildcard is `...`."""
    i = j = 0
    star, resume = -1, 0  # the latest `...` seen, and the first actual line it does not cover
    while j < len(actual):
        if i < len(expected) and expected[i] is None:
            star, resume = i, j
            i += 1
        elif i < len(expected) and expected[i] == actual[j]:
            i += 1
            j += 1
        elif star >= 0:
            resume += 1
            i, j = star + 1, resume
        else:
            return False
    return all(line is None for line in expected[i:])


def expand_ellipses(expected: list[str | None], actual: list[str]) -> list[str]:
    """expected with each `...` replaced by the actual lines it stands for in an alignment with the
    fewest differing lines, so that a diff shows only the real differences."""
    n, m = len(expected), len(actual)
    if (n + 1) * (m + 1) > DIFF_ALIGN_LIMIT:
        return [ELLIPSIS if line is None else line for line in expected]
    # cost[i][j]: the fewest unmatched lines aligning expected[i:] with actual[j:].
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        cost[n][j] = m - j
    for i in range(n - 1, -1, -1):
        cost[i][m] = cost[i + 1][m] + (0 if expected[i] is None else 1)
        for j in range(m - 1, -1, -1):
            if expected[i] is None:
                cost[i][j] = min(cost[i + 1][j], cost[i][j + 1])
            else:
                best = 1 + min(cost[i + 1][j], cost[i][j + 1])
                cost[i][j] = min(best, cost[i + 1][j + 1]) if expected[i] == actual[j] else best
    shown, i, j = [], 0, 0
    while i < n:
        if expected[i] is None:
            # On a tie the `...` ends: it then covers no line that a line after it matches.
            if j == m or cost[i][j] == cost[i + 1][j]:
                i += 1
            else:
                shown.append(actual[j])  # the `...` covers this line
                j += 1
        elif j < m and expected[i] == actual[j] and cost[i][j] == cost[i + 1][j + 1]:
            shown.append(expected[i])
            i, j = i + 1, j + 1
        elif cost[i][j] == 1 + cost[i + 1][j]:
            shown.append(expected[i])  # missing from the actual output
            i += 1
        else:
            j += 1  # an actual line the text does not show
    return shown


# Ports


def demo_ports(script: str) -> list[str]:
    """The ports a script names with `--port N` (0 < N < 65536), as written. Other numbers are left
    as they are, so that a demo can show a server refusing a bad port."""
    return sorted({m.group(1) for m in PORT_OPTION_RE.finditer(script)
                   if 0 < int(m.group(1)) < 65536})


# A redirection that truncates a file of the lesson's build/: `> build/x`, `2> build/x`, `&> build/x`
# (not `>>`, which appends).
TRUNCATED = re.compile(r"(?<![>\w])(?:\d|&)?>\s*(build/[^\s;|&()<>]+)")


def free_ports(count: int, avoid: set[int]) -> list[int]:
    """count distinct ports that are free on 127.0.0.1 now, none of them in avoid."""
    held, ports = [], []
    try:
        while len(ports) < count:
            # Every socket stays bound until all are picked, so the kernel never hands out one twice.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in avoid:
                ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def replace_words(text: str, mapping: dict[str, str]) -> str:
    """Every whole word of text that is a key of mapping replaced by its value, in one pass (so
    that a replacement is never replaced again)."""
    if not mapping:
        return text
    words = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, mapping)) + r")(?!\w)")
    return words.sub(lambda match: mapping[match.group(1)], text)


# Running a script and the processes it leaves behind


@dataclass
class Process:
    pid: int
    group: int
    command: str

    def __str__(self) -> str:
        return f"{self.pid} ({self.command})"


@dataclass
class ScriptRun:
    output: bytes
    elapsed: float
    timed_out: bool
    left_running: list[Process]  # still in the session after the script exited (then killed)
    unkillable: list[Process]  # still there after SIGKILL: stuck in the kernel


def run_script(script: Path, output: Path, cwd: Path, timeout: float) -> ScriptRun:
    """Run a demo's script in a session of its own; end every process of it before returning."""
    started = time.monotonic()
    with open(output, "wb") as out:
        # A file, not a pipe: a background process that keeps the descriptor open cannot hold the
        # checker waiting for an end of file, and no thread is needed to drain it. The script is
        # named relative to cwd so that bash's messages ("SCRIPT: line 3: ...") are the same in
        # every run.
        proc = subprocess.Popen(["bash", "--noprofile", "--norc", os.path.relpath(script, cwd)],
                                cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "LC_ALL": "C"},
                                start_new_session=True)
    # The new session's id is the script's pid. Every process the script starts stays in it, unless
    # it starts a session of its own.
    session = proc.pid
    timed_out, left_running = False, []
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        elapsed = time.monotonic() - started
        if not timed_out:
            left_running = session_members(session)
    finally:
        # Also on a timeout or Ctrl-C in the checker: no process of the demo outlives it.
        unkillable = end_session(session)
        try:
            proc.wait(timeout=KILL_BOUND)
        except subprocess.TimeoutExpired:
            pass  # the script itself is stuck in the kernel: in unkillable
    return ScriptRun(output.read_bytes(), elapsed, timed_out, left_running, unkillable)


def session_members(session: int) -> list[Process]:
    """The live processes of a session. Zombies are left out: they are gone, only not reaped yet
    (by an init that, in a container, may never reap them)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_bytes().decode(errors="replace")
        except OSError:
            continue  # it exited meanwhile
        # The command name, in parentheses, may hold spaces and parentheses: the fields that follow
        # the last ')' are state, ppid, pgrp, session, ...
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 3 and int(fields[3]) == session and fields[0] not in ("Z", "X"):
            name = stat[stat.find("(") + 1:stat.rfind(")")]
            members.append(Process(int(entry), int(fields[2]), process_command(int(entry), name)))
    return sorted(members, key=lambda p: p.pid)


def process_command(pid: int, name: str) -> str:
    try:
        argv = Path("/proc", str(pid), "cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    command = " ".join(arg.decode(errors="replace") for arg in argv if arg) or name
    return command if len(command) <= 60 else command[:57] + "..."


def end_session(session: int) -> list[Process]:
    """Stop every process left in the session: SIGTERM, then SIGKILL after a grace period. Returns
    the processes still running after that (none, unless one is stuck in the kernel)."""
    for sig, bound in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, KILL_BOUND)):
        members = session_members(session)
        if not members:
            return []
        # A process group never spans two sessions: signalling the groups found in the demo's
        # session reaches the demo's processes and no other.
        for group in sorted({p.group for p in members}):
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass  # gone meanwhile, or (setuid) not ours to signal: reported if it stays
        wait_until(lambda: not session_members(session), bound)
    return session_members(session)


def wait_until(condition, timeout: float, interval: float = 0.02) -> bool:
    """Poll condition until it holds or timeout seconds have passed; whether it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


# The command


def selected_lessons(course: Course, specs: list[str]) -> list[Lesson]:
    """The lessons named (each once, in course order), or every lesson."""
    chosen = [course.find(spec) for spec in specs] if specs else course.lessons
    return sorted({l.name: l for l in chosen}.values(), key=lambda l: l.number)


def cmd_demos(course: Course, args: argparse.Namespace) -> int:
    selected = selected_lessons(course, args.lessons)
    readmes = {lesson.name: read_demos(lesson) for lesson in selected}
    if args.list:
        return list_demos(selected, readmes)
    tree = Path(tempfile.mkdtemp(prefix="lesson-demos-"))
    runner = DemoRunner(course, tree, args.prebuilt.resolve() if args.prebuilt else None)
    try:
        for lesson in selected:
            runner.run_lesson(lesson, readmes[lesson.name])
    finally:
        if args.keep:
            print(f"demos: kept the temporary tree {tree}", flush=True)
        else:
            shutil.rmtree(tree, ignore_errors=True)
    print(f"demos: {runner.count} run in {len(selected)} lessons, {runner.failed} failed")
    return 1 if runner.failed else 0


def print_unmarked(lesson: Lesson, readme: ReadmeDemos) -> None:
    for line, section in readme.unmarked:
        print(f"{lesson.name}: note: unchecked sh block at README line {line} (section {section})")


def list_demos(selected: list[Lesson], readmes: dict[str, ReadmeDemos]) -> int:
    count = 0
    for lesson in selected:
        readme = readmes[lesson.name]
        print_unmarked(lesson, readme)
        for demo in readme.demos:
            count += 1
            if demo.errors:
                print(f"{lesson.name}: {demo.where()}: malformed: {'; '.join(demo.errors)}")
            else:
                first = next((line.strip() for line in demo.script.splitlines() if line.strip()), "")
                print(f"{lesson.name}: {demo.where()}: $ {first}")
    print(f"demos: {count} in {len(selected)} lessons (listed, not run)")
    return 0


def print_tail(text: str, lines: int) -> None:
    print("\n".join(f"    | {line}" for line in text.splitlines()[-lines:]), flush=True)


class DemoRunner:
    """Runs demos in one temporary tree that holds lone copies of lessons, each built once."""

    def __init__(self, course: Course, tree: Path, prebuilt: Path | None = None):
        self.course, self.tree, self.prebuilt = course, tree, prebuilt
        self.builds: dict[str, str | None] = {}  # lesson name -> None when it built, else why not
        self.count = self.failed = 0

    def copy_of(self, lesson: Lesson) -> Path:
        return self.tree / "lessons" / lesson.name

    def build(self, lesson: Lesson) -> str | None:
        """Copy and build the lesson, once per run; None when it built, else why it did not."""
        if lesson.name not in self.builds:
            self.builds[lesson.name] = self._build(lesson)
        return self.builds[lesson.name]

    def remove_outputs(self, lesson: Lesson, demo: Demo) -> None:
        """Removes the files the demo's script truncates with `>` (its logs, mostly) before it runs.
        They are written anew by this demo anyway; left from an earlier one, a log could satisfy
        the demo's `until grep -q listening build/server.log` before its own server has even
        truncated the file, and the demo would talk to a server not yet listening."""
        for name in TRUNCATED.findall(demo.script):
            path = self.copy_of(lesson) / name
            if path.is_file() and not path.is_symlink():
                path.unlink()

    def _build(self, lesson: Lesson) -> str | None:
        copy = self.copy_of(lesson)
        copy_lesson(self.course, lesson, copy)
        if self.take_prebuilt(lesson, copy):
            return None
        started, log = time.monotonic(), []
        # Only the programs lesson.toml names: compiling the unit tests would take most of the time.
        for step in build_steps(lesson.list_of("executables")):
            code = run_logged(step, copy, log)
            if code != 0:
                print(f"{lesson.name}: build FAILED: `{' '.join(step)}` "
                      f"{'timed out' if code is None else f'exited {code}'} "
                      f"({time.monotonic() - started:.1f} s) in a standalone copy; the log ends with:")
                print_tail("".join(log), 40)
                return f"{lesson.name} did not build"
        print(f"{lesson.name}: built in a standalone copy ({time.monotonic() - started:.1f} s)",
              flush=True)
        return None

    def take_prebuilt(self, lesson: Lesson, copy: Path) -> bool:
        """With --prebuilt: put the lesson's programs (and static libraries, which some demos link
        against) from a build of the same files into the copy's build/, instead of building it
        again. Only if every program is there and newer than every file of the lesson."""
        if self.prebuilt is None:
            return False
        built = self.prebuilt / lesson.name
        programs = [built / name for name in lesson.list_of("executables")]
        if not programs or not all(p.is_file() for p in programs):
            return False
        newest = max(path.stat().st_mtime for path in self.course.files(lesson).values())
        if min(p.stat().st_mtime for p in programs) < newest:
            return False
        (copy / "build").mkdir()
        for path in programs + sorted(built.glob("*.a")):
            shutil.copy2(path, copy / "build" / path.name)
        print(f"{lesson.name}: programs taken from {built}", flush=True)
        return True

    def run_lesson(self, lesson: Lesson, readme: ReadmeDemos) -> None:
        print_unmarked(lesson, readme)
        runnable = [demo for demo in readme.demos if not demo.errors]
        previous = self.course.previous(lesson)
        if runnable:
            # Section 1 shows the previous lesson's behaviour, with ../NN_previous/...
            if previous is not None and any(demo.section == 1 for demo in runnable):
                self.build(previous)
            self.build(lesson)
        for demo in readme.demos:
            self.count += 1
            head = f"{lesson.name}: {demo.where()}"
            if demo.errors:
                self.failed += 1
                print(f"{head}: FAILED: malformed marker: {'; '.join(demo.errors)}", flush=True)
                continue
            needed = [lesson] + ([previous] if previous is not None and demo.section == 1 else [])
            unbuilt = [self.builds[l.name] for l in needed if self.builds[l.name] is not None]
            if unbuilt:
                self.failed += 1
                print(f"{head}: FAILED: not run: {'; '.join(unbuilt)}", flush=True)
            else:
                self.remove_outputs(lesson, demo)
                self.run_demo(lesson, demo, head)

    def run_demo(self, lesson: Lesson, demo: Demo, head: str) -> None:
        work = self.tree / "demos" / lesson.name
        work.mkdir(parents=True, exist_ok=True)
        ports = demo_ports(demo.script)
        picked = dict(zip(ports, map(str, free_ports(len(ports), {int(p) for p in ports}))))
        script = work / f"demo-{demo.number}.sh"
        script.write_text(replace_words(demo.script, picked))
        run = run_script(script, work / f"demo-{demo.number}.out", self.copy_of(lesson), demo.timeout)

        raw = run.output.decode("utf-8", errors="replace")
        failures, diff = [], []
        if run.timed_out:
            failures.append(f"timed out after {demo.timeout:g} s")
        else:
            back = {port: written for written, port in picked.items()}
            matched, diff = compare_output(demo, replace_words(raw, back))
            if not matched:
                failures.append("the output differs from the text")
        if run.left_running:
            failures.append("left processes running: " + ", ".join(map(str, run.left_running)))
        if run.unkillable:
            failures.append("still running after SIGKILL: " + ", ".join(map(str, run.unkillable)))
        if not failures:
            print(f"{head}: ok ({run.elapsed:.1f} s)", flush=True)
            return
        self.failed += 1
        print(f"{head}: FAILED ({run.elapsed:.1f} s): {'; '.join(failures)}")
        for line in diff:
            print(f"    {line}")
        if raw.strip():
            print("    the output ends with:")
            print_tail(raw, OUTPUT_TAIL_LINES)
        else:
            print("    (the demo printed nothing)", flush=True)


# --------------------------------------------------------------------------------------------------
# forward


def cmd_forward(course: Course, args: argparse.Namespace) -> int:
    source = course.find(args.lesson)
    top = git_toplevel(course.root)
    git(top, "rev-parse", "--verify", "--quiet", f"{args.rev}^{{commit}}",
        error=f"{args.rev!r} is not a commit")
    paths = forward_paths(course, source, top, args)
    # A mistyped path is a usage mistake: stop before forwarding anything, and do not exit 0.
    missing = [rel for rel in paths if not (source.path / rel).exists()
               and git_blob(top, args.rev, f"{repo_path(top, source.path)}/{rel}") is None]
    if missing:
        raise ToolError("; ".join(f"{source.name}/{rel}: no such file, neither at {args.rev} nor in "
                                  "the working tree" for rel in missing), 1)
    if not paths:
        print(f"{source.name}: no file differs from {args.rev}; nothing to forward")
    for rel in paths:
        forward_file(course, source, rel, top, args)
    return 0


def forward_paths(course: Course, source: Lesson, top: Path, args: argparse.Namespace) -> list[str]:
    """Lesson-relative paths to forward: the given ones, or every file that differs from REV."""
    if args.paths:
        found = []
        for spec in args.paths:
            rel = lesson_relative(course, source, spec)
            inside = [p for p in course.files(source) if p.startswith(rel + "/")]
            found.extend(inside or [rel])  # a directory stands for the files under it
        return list(dict.fromkeys(found))
    prefix = repo_path(top, source.path)
    # -z: names exactly as stored, not C-quoted.
    at_rev = git(top, "ls-tree", "-r", "-z", "--name-only", args.rev, "--", prefix + "/")
    old = {PurePosixPath(p).relative_to(prefix).as_posix() for p in at_rev.split("\0") if p}
    old = {p for p in old if not any(part.startswith("build") for part in PurePosixPath(p).parts[:-1])}
    new = set(course.files(source))
    differing = []
    for rel in sorted(old | new):
        if rel in ALWAYS_CHANGING:
            continue  # lesson-specific by nature: never forwarded wholesale
        if rel not in old or rel not in new or \
                git_blob(top, args.rev, f"{prefix}/{rel}") != (source.path / rel).read_bytes():
            differing.append(rel)
    return differing


def lesson_relative(course: Course, lesson: Lesson, spec: str) -> str:
    """A path given on the command line, as a path relative to the lesson.

    Accepted: relative to the current directory (lessons/08_buffer/src/Buffer.cc) or to the
    lesson (src/Buffer.cc)."""
    given = Path(spec)
    absolute = (given if given.is_absolute() else Path.cwd() / given).resolve()
    lessons_dir = (course.root / "lessons").resolve()
    if is_inside(absolute, lesson.path.resolve()) and absolute != lesson.path.resolve():
        return absolute.relative_to(lesson.path.resolve()).as_posix()
    if is_inside(absolute, lessons_dir) and absolute.exists() and absolute != lessons_dir:
        raise ToolError(f"{spec} is not in {lesson.name}")
    rel = PurePosixPath(spec)
    if rel.is_absolute() or ".." in rel.parts:
        raise ToolError(f"{spec} is not in {lesson.name}")
    return rel.as_posix().rstrip("/")


def forward_file(course: Course, source: Lesson, rel: str, top: Path, args: argparse.Namespace) -> None:
    here = f"{source.name}/{rel}"
    old = git_blob(top, args.rev, f"{repo_path(top, source.path)}/{rel}")
    new_path = source.path / rel
    if old is None:
        print(f"{here}: new in {source.name} (absent at {args.rev}), not forwarded")
        return
    if not new_path.is_file():
        print(f"{here}: removed in {source.name} since {args.rev}, not forwarded")
        return
    new = new_path.read_bytes()
    if old == new:
        print(f"{here}: unchanged since {args.rev}, nothing to forward")
        return
    for later in course.later(source):
        status = forward_into(later.path / rel, old, new, top, dry_run=args.dry_run)
        print(f"{later.name}/{rel}: {status}", flush=True)


def forward_into(target: Path, old: bytes, new: bytes, top: Path, dry_run: bool) -> str:
    """Apply the change old -> new to target; the word that says what happened."""
    if not target.is_file():
        return "absent"
    current = target.read_bytes()
    if current == new:
        return "already fixed"
    if current == old:
        if not dry_run:
            target.write_bytes(new)
        return "copied"
    if any(b"\0" in blob for blob in (current, old, new)):
        return "left alone: binary file differs"
    merged = merge_three_way(current, old, new, top)
    if merged is None:
        return "left alone: code differs"
    if not dry_run:
        target.write_bytes(merged)
    return "merged"


def merge_three_way(current: bytes, old: bytes, new: bytes, top: Path) -> bytes | None:
    """git merge-file of current with the change old -> new; None on a conflict."""
    with tempfile.TemporaryDirectory(prefix="lesson-forward-") as tmp:
        files = []
        for name, data in (("current", current), ("old", old), ("new", new)):
            (Path(tmp) / name).write_bytes(data)
            files.append(str(Path(tmp) / name))
        proc = subprocess.run(["git", "merge-file", "-p", "-q", *files], cwd=top, capture_output=True)
    # merge-file exits with the number of conflicts (at most 127), or >= 128 when it fails.
    if proc.returncode >= 128 or proc.returncode < 0:
        raise ToolError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}", 1)
    return proc.stdout if proc.returncode == 0 else None


def git(top: Path, *args: str, error: str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=top, capture_output=True)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()
        raise ToolError(error or f"git {' '.join(args)} failed: {detail}", 1)
    return proc.stdout.decode("utf-8", errors="surrogateescape")


def git_toplevel(root: Path) -> Path:
    try:
        out = git(root, "rev-parse", "--show-toplevel", error=f"{root} is not in a git work tree")
    except FileNotFoundError:
        raise ToolError("git is not installed", 1) from None
    return Path(out.strip()).resolve()


def repo_path(top: Path, path: Path) -> str:
    return path.resolve().relative_to(top).as_posix()


def git_blob(top: Path, rev: str, path: str) -> bytes | None:
    """The bytes of path at rev, None when rev has no such file."""
    exists = subprocess.run(["git", "cat-file", "-e", f"{rev}:{path}"], cwd=top, capture_output=True)
    if exists.returncode != 0:
        return None
    proc = subprocess.run(["git", "cat-file", "blob", f"{rev}:{path}"], cwd=top, capture_output=True)
    if proc.returncode != 0:
        raise ToolError(f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}", 1)
    return proc.stdout


# --------------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a subcommand from overwriting a --root given before the subcommand.
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS,
                        help="the course repository (default: the one this tool is in)")
    parser = argparse.ArgumentParser(prog="lesson", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None,
                        help="the course repository (default: the one this tool is in)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", parents=[common], help="lessons, features, limitations",
                                  description="One row per lesson: number, directory, title, the "
                                  "client-suite features it passes and its limitations.")
    listing.set_defaults(run=cmd_list)

    diff = commands.add_parser("diff", parents=[common], help="the code diff between two lessons",
                               description="Print `diff -ruN` of two lessons (paths relative to the "
                               "repository, no timestamps), build trees and git-ignored files left "
                               "out, README.md and lesson.toml too unless --all. A lesson is named "
                               "3, 03 or 03_epoll; with one lesson, diff it against its previous "
                               "one. Exits 0 whether or not they differ.")
    diff.add_argument("a", metavar="A", help="the older lesson (or the only one: diff against its previous)")
    diff.add_argument("b", metavar="B", nargs="?", help="the newer lesson")
    diff.add_argument("--all", action="store_true", help="include README.md and lesson.toml")
    diff.set_defaults(run=cmd_diff)

    check = commands.add_parser(
        "check", parents=[common], help="snapshot discipline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check snapshot discipline; every problem is one line starting with the lesson.\n"
        "  - lessons/ holds only NN_name directories, numbered from 1 without gaps\n"
        "  - lesson.toml is valid: schema, features in tools/features.toml\n"
        "  - README.md has the seven sections in order; section 6 is titled 'What changed since\n"
        "    lesson N-1' (0 for lesson 1) and lists each added, modified and removed file of the\n"
        "    real diff as '- added `path`: why' (lesson 1 lists every file as added; README.md and\n"
        "    lesson.toml are never listed)\n"
        "  - every line of a ```cpp or ```cmake block in README.md is in the lesson's code or the\n"
        "    previous lesson's (pseudo-code goes in a ```text block)\n"
        "  - every <!-- demo --> marker is well-formed: known options, valid regexes, the ```sh\n"
        "    and output blocks after it (see `demos --help`; nothing is run)\n"
        "  - no file refers outside its lesson (.. in CMake files and #include \"...\", symlinks)\n"
        "  - features accumulate unless [retired] (a retired feature may also be listed as a\n"
        "    limitation, never as a feature); limitations stay until a later lesson makes them\n"
        "    features (a limitation no existing lesson removes yet is only a note)\n"
        "  - with --build: each lesson, copied alone, configures, builds and passes ctest\n"
        "Exits 1 when there are problems.")
    check.add_argument("lessons", metavar="LESSON", nargs="*", help="lessons to check (default: all)")
    check.add_argument("--build", action="store_true",
                       help="also build and test each lesson alone in a temporary copy")
    check.set_defaults(run=cmd_check)

    forward = commands.add_parser(
        "forward", parents=[common], help="carry a fix from a lesson into later lessons",
        description="Carry the change between git REV and the working tree of LESSON's files into "
        "every later lesson holding the same path: copied (the later file equals the old version), "
        "already fixed, merged (3-way, git merge-file), left alone: code differs (conflict: file "
        "untouched), or absent. PATHs are relative to the lesson or to the current directory; "
        "default: every file of LESSON that differs from REV, except README.md and lesson.toml "
        "(lesson-specific: forwarded only when named). Files new since REV are not forwarded. "
        "LESSON and earlier lessons are never touched.")
    forward.add_argument("lesson", metavar="LESSON", help="the lesson holding the fix")
    forward.add_argument("paths", metavar="PATH", nargs="*", help="files (or directories) to forward")
    forward.add_argument("--from", dest="rev", default="HEAD", metavar="REV",
                         help="the git revision holding the old version (default: HEAD)")
    forward.add_argument("--dry-run", action="store_true", help="report, but write nothing")
    forward.set_defaults(run=cmd_forward)

    demos = commands.add_parser(
        "demos", parents=[common], help="run the commands a README shows, compare their output",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the demos (marked shell blocks) of each lesson's README in a lone copy\n"
        "of the lesson and compare their output with the output the README shows.\n\n"
        + __doc__[__doc__.index("A demo is an HTML comment"):]
        + "\nExits 1 when a demo fails (a malformed marker counts as a failed demo), 2 on a "
        "usage error.")
    demos.add_argument("lessons", metavar="LESSON", nargs="*",
                       help="lessons whose demos to run: 3, 03 or 03_epoll (default: all)")
    demos.add_argument("--list", action="store_true",
                       help="list the demos (lesson, number, section, line); build and run nothing")
    demos.add_argument("--prebuilt", metavar="DIR", type=Path,
                       help="take each lesson's programs from DIR/<lesson> (a whole-course build's "
                       "build/lessons) instead of building its copy, when they are newer than "
                       "every file of the lesson (CI: the same files, built the same way, once)")
    demos.add_argument("--keep", action="store_true",
                       help="keep the temporary tree (lesson copies, builds, scripts, outputs) "
                       "and print where it is")
    demos.set_defaults(run=cmd_demos)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or Path(__file__).resolve().parent.parent).resolve()
    try:
        return args.run(Course.load(root), args)
    except ToolError as err:
        print(f"lesson {args.command}: {err}", file=sys.stderr)
        return err.code
    except BrokenPipeError:  # `lesson diff 3 4 | head` is fine
        return 0


if __name__ == "__main__":
    sys.exit(main())
