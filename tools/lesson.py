#!/usr/bin/env python3
"""The lesson tool: chores of a course made of self-contained lesson snapshots.

    lesson list                         lessons, their features and limitations
    lesson diff A [B]                   the code diff an instructor shows (A -> B)
    lesson check [--build] [LESSON...]  snapshot discipline (see `check --help`)
    lesson forward LESSON [PATH...]     carry a fix made in LESSON into later lessons

A lesson is a directory lessons/NN_name/. Its files are every file under it except those under a
directory whose name starts with "build" (build trees) and those git ignores. README.md and
lesson.toml at the top of a lesson change in every lesson, so they are left out of the code diff and
of the README's change list.

Standard library only (Python >= 3.11 for tomllib), so the tool runs wherever the course does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

LESSON_DIR_RE = re.compile(r"^(\d{2})_([a-z0-9][a-z0-9_]*)$")

# Files that change in every lesson: never part of the code diff nor of the README's change list.
ALWAYS_CHANGING = ("README.md", "lesson.toml")

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
    selected = [course.find(spec) for spec in args.lessons] if args.lessons else course.lessons
    selected = sorted({l.name: l for l in selected}.values(), key=lambda l: l.number)
    report = Report()
    vocabulary, vocab_error = load_vocabulary(course.root)
    if vocab_error:
        report.problem("tools", vocab_error)
    check_layout(course, report)
    for lesson in selected:
        check_toml(lesson, vocabulary, report)
        check_readme(course, lesson, report)
        check_quoted_code(course, lesson, report)
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


def split_sections(text: str) -> list[tuple[str, list[str]]]:
    """The README's level-2 sections: (heading text, body lines), fenced code left out."""
    sections: list[tuple[str, list[str]]] = []
    for line in unfenced_lines(text):
        match = re.match(r"^ {0,3}##(?:\s+(.*?))?\s*#*\s*$", line)
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


def build_lesson(course: Course, lesson: Lesson, report: Report) -> None:
    """Copy the lesson alone into a fresh directory, configure, build and run its tests."""
    jobs = str(os.cpu_count() or 1)
    steps = [
        ["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
        ["cmake", "--build", "build", f"-j{jobs}"],
        ["ctest", "--test-dir", "build", "--output-on-failure"],
    ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"lesson-{lesson.name}-") as tmp:
        copy = Path(tmp) / lesson.name
        for rel, path in course.files(lesson).items():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy / rel, follow_symlinks=False)
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
# forward


def cmd_forward(course: Course, args: argparse.Namespace) -> int:
    source = course.find(args.lesson)
    top = git_toplevel(course.root)
    git(top, "rev-parse", "--verify", "--quiet", f"{args.rev}^{{commit}}",
        error=f"{args.rev!r} is not a commit")
    paths = forward_paths(course, source, top, args)
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
    if old is None and not new_path.exists():
        print(f"{here}: no such file, neither at {args.rev} nor in the working tree")
        return
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
