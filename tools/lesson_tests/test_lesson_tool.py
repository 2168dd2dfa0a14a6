"""Tests of tools/lesson.py against small fake course trees (see conftest.py)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from lesson_tree import (LESSONS, SERVER_1, SERVER_2, git, git_commit_all, git_init, lesson_toml,
                      readme, run_tool, write)


def problem_lines(output: str, lesson: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{lesson}: ")]


def set_changes(course: Path, name: str, changes: list[str], **kwargs) -> None:
    write(course / "lessons" / name / "README.md", readme(int(name[:2]), changes, **kwargs))


def set_toml(course: Path, name: str, text: str) -> None:
    write(course / "lessons" / name / "lesson.toml", text)


# --------------------------------------------------------------------------------------------------
# check


def test_check_passes_on_a_correct_course(course):
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "check: 3 lessons, 0 problems"
    assert "note:" not in result.stdout


def test_check_fails_when_the_change_list_misses_a_changed_file(course):
    write(course / "lessons" / "02_second" / "util.h", "#pragma once\n// drive-by edit\n")
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = problem_lines(result.stdout, "02_second")
    assert any("does not list modified `util.h`" in line for line in problems), result.stdout
    # util.h of lesson 3 is now also "modified" relative to the drive-by edit: still listed, so fine.
    assert result.stdout.strip().splitlines()[-1].startswith("check: 3 lessons, ")


def test_check_fails_on_a_wrong_status_word_and_on_an_extra_file(course):
    set_changes(course, "02_second", ["- added `server.cpp`: returns 0.",
                                      "- added `worker.h`: a worker.",
                                      "- modified `util.h`: not really."])
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = problem_lines(result.stdout, "02_second")
    assert any("says added `server.cpp`, but it was modified" in line for line in problems)
    assert any("lists modified `util.h`, but it did not change" in line for line in problems)
    assert result.stdout.strip().splitlines()[-1] == "check: 3 lessons, 2 problems"


def test_check_fails_on_an_unknown_status_word_and_a_missing_reason(course):
    set_changes(course, "03_third", ["- changed `util.h`: adds instead of multiplying.",
                                     "- removed `worker.h`",
                                     "- added `tests/test_util.cpp`: a test of util.h."])
    result = run_tool(course, "check")
    problems = problem_lines(result.stdout, "03_third")
    assert any("'changed' `util.h` is not a status word" in line for line in problems)
    assert any("`worker.h` needs a reason" in line for line in problems)
    assert any("does not list modified `util.h`" in line for line in problems)
    assert result.returncode == 1


def test_check_fails_when_readme_or_lesson_toml_is_listed(course):
    set_changes(course, "03_third", [*LESSONS["03_third"]["changes"], "- modified `README.md`: text."])
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("`README.md`, which changes in every lesson" in line
               for line in problem_lines(result.stdout, "03_third"))


def test_lesson_one_lists_every_file_as_added(course):
    set_changes(course, "01_first", ["- added `CMakeLists.txt`: how to build it.",
                                     "- added `server.cpp`: the server."])
    result = run_tool(course, "check", "1")
    assert result.returncode == 1
    assert problem_lines(result.stdout, "01_first") == [
        "01_first: README: section 6 does not list added `util.h`"]
    assert result.stdout.strip().splitlines()[-1] == "check: 1 lessons, 1 problems"


def test_section_six_heading_names_the_previous_lesson(course):
    set_changes(course, "03_third", LESSONS["03_third"]["changes"],
                heading6="## 6. What changed since lesson 01")
    set_changes(course, "01_first", LESSONS["01_first"]["changes"],
                heading6="## 6. What changed since lesson 0 (everything is new)")
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("must be titled 'What changed since lesson 02'" in line
               for line in problem_lines(result.stdout, "03_third"))
    assert problem_lines(result.stdout, "01_first") == []


def test_check_fails_on_missing_or_misordered_sections(course):
    text = readme(2, LESSONS["02_second"]["changes"])
    swapped = text.replace("## 4. Run it", "## TMP").replace("## 5. Test it", "## 4. Run it") \
        .replace("## TMP", "## 5. Test it")
    write(course / "lessons" / "02_second" / "README.md", swapped)
    write(course / "lessons" / "03_third" / "README.md",
          readme(3, LESSONS["03_third"]["changes"]).replace("## 2. The idea", "## Idea"))
    result = run_tool(course, "check")
    assert result.returncode == 1
    second = problem_lines(result.stdout, "02_second")
    assert any("'## 4. Run it...' is out of order" in line for line in second), result.stdout
    write(course / "lessons" / "01_first" / "README.md",
          readme(1, LESSONS["01_first"]["changes"]) + "\n## 7. Exercises and further reading\n")
    result = run_tool(course, "check")
    assert "01_first: README: section '## 7. Exercises and further reading...' appears 2 times" \
        in result.stdout.splitlines()
    third = problem_lines(result.stdout, "03_third")
    assert any("no section '## 2. The idea...'" in line for line in third)
    assert any("unexpected section '## Idea'" in line for line in third)


def test_check_fails_on_a_toml_syntax_error(course):
    set_toml(course, "02_second", 'number = 2\nname = "02_second\n')
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("lesson.toml is not valid TOML" in line
               for line in problem_lines(result.stdout, "02_second"))


@pytest.mark.parametrize("toml_change, expected", [
    (lambda t: t.replace('"usage",', '"usage", "teleport",'), "features: 'teleport' is not in tools/features.toml"),
    (lambda t: t.replace("number = 2", "number = 3"), "number = 3, but the directory says 2"),
    (lambda t: t.replace('name = "02_second"', 'name = "02_other"'), "but the directory is '02_second'"),
    (lambda t: t.replace('server = "server"', 'server = "client"'), "server = 'client' is not one of the executables"),
    (lambda t: t.replace("threads = false", "threads = 0"), "'threads' must be true or false, not int"),
    (lambda t: t.replace("threads = false\n", ""), "'threads' is missing"),
    (lambda t: t.replace('limitations = ["many_clients"]', 'limitations = ["echo"]'), "'echo' is both a feature and a limitation"),
    (lambda t: t.replace('"echo",', '"echo", "echo",'), "features lists 'echo' more than once"),
])
def test_check_fails_on_schema_errors(course, toml_change, expected):
    path = course / "lessons" / "02_second" / "lesson.toml"
    changed = toml_change(path.read_text())
    assert changed != path.read_text(), "the test's replacement did not apply"
    path.write_text(changed)
    result = run_tool(course, "check", "02_second")
    assert result.returncode == 1
    assert any(expected in line for line in problem_lines(result.stdout, "02_second")), result.stdout


def test_check_fails_on_a_feature_dropped_without_retired(course):
    set_toml(course, "03_third", lesson_toml(3, "03_third", ["usage", "concurrent_clients", "many_clients"], []))
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("feature 'echo' of 02_second is dropped" in line
               for line in problem_lines(result.stdout, "03_third"))

    set_toml(course, "03_third", lesson_toml(3, "03_third", ["usage", "concurrent_clients", "many_clients"],
                                             [], extra='[retired]\necho = "the protocol changed"\n'))
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout


def test_retired_feature_may_also_be_a_limitation(course):
    # Lesson 3 no longer passes concurrent_clients, and fails it reliably: retired (the reason says
    # why the earlier lesson's feature is gone) and listed as a limitation (run as strict xfail).
    set_toml(course, "03_third", lesson_toml(3, "03_third", ["usage", "echo", "many_clients"],
                                             ["concurrent_clients"],
                                             extra='[retired]\nconcurrent_clients = "one loop"\n'))
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout
    assert problem_lines(result.stdout, "03_third") == [
        "03_third: note: limitation 'concurrent_clients' is not a feature of any later lesson yet"]


def test_retired_feature_must_not_stay_a_feature(course):
    set_toml(course, "03_third", lesson_toml(3, "03_third", LESSONS["03_third"]["features"], [],
                                             extra='[retired]\nconcurrent_clients = "one loop"\n'))
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("'concurrent_clients' is retired and still a feature" in line
               for line in problem_lines(result.stdout, "03_third")), result.stdout


def test_check_fails_on_retiring_a_feature_never_had(course):
    set_toml(course, "03_third", lesson_toml(3, "03_third", LESSONS["03_third"]["features"], [],
                                             extra='[retired]\npeer_reset = "why not"\n'))
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("retires 'peer_reset', which 02_second does not have" in line
               for line in problem_lines(result.stdout, "03_third"))


def test_limitation_must_stay_until_a_lesson_makes_it_a_feature(course):
    # many_clients is a limitation of lesson 2; lesson 3 neither passes it nor keeps it.
    set_toml(course, "03_third", lesson_toml(3, "03_third", ["usage", "echo", "concurrent_clients"], []))
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert any("limitation 'many_clients' of 02_second vanished" in line
               for line in problem_lines(result.stdout, "03_third"))


def test_limitation_not_yet_removed_is_only_a_note(course):
    set_toml(course, "03_third", lesson_toml(3, "03_third", ["usage", "echo", "concurrent_clients"],
                                             ["many_clients", "peer_reset"]))
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout
    notes = [line for line in result.stdout.splitlines() if ": note: " in line]
    # One note per limitation chain, at the lesson where it starts.
    assert notes == [
        "02_second: note: limitation 'many_clients' is not a feature of any later lesson yet",
        "03_third: note: limitation 'peer_reset' is not a feature of any later lesson yet",
    ]


def test_check_fails_on_an_include_that_leaves_the_lesson(course):
    write(course / "lessons" / "03_third" / "tests" / "test_util.cpp",
          '#include "../../02_second/worker.h"\n#include "../util.h"\nint main() {}\n')
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = problem_lines(result.stdout, "03_third")
    assert any('`tests/test_util.cpp` line 1: #include "../../02_second/worker.h" refers outside'
               in line for line in problems), result.stdout
    assert not any("line 2" in line for line in problems)  # ../util.h stays inside


def test_check_fails_on_cmake_that_leaves_the_lesson(course):
    cmake = (LESSONS["02_second"]["files"]["CMakeLists.txt"]
             + "# a comment may say ../../anything\n"
             + "add_subdirectory(${CMAKE_CURRENT_SOURCE_DIR}/../01_first/lib lib)\n"
             + 'include("../../common.cmake")\n')
    write(course / "lessons" / "02_second" / "CMakeLists.txt", cmake)
    set_changes(course, "02_second", [*LESSONS["02_second"]["changes"], "- modified `CMakeLists.txt`: more."])
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = problem_lines(result.stdout, "02_second")
    assert [line.split(": ", 1)[1] for line in problems] == [
        "`CMakeLists.txt` line 5: ${CMAKE_CURRENT_SOURCE_DIR}/../01_first/lib refers outside the lesson",
        "`CMakeLists.txt` line 6: ../../common.cmake refers outside the lesson",
    ]


def test_check_fails_on_a_gap_in_the_numbering(course):
    (course / "lessons" / "02_second").rename(course / "lessons" / "04_fourth")
    result = run_tool(course, "check")
    assert result.returncode == 1
    assert "lessons: lesson numbers must run from 1 without gaps; missing: 02" in result.stdout.splitlines()


def test_build_trees_and_ignored_files_are_not_part_of_a_lesson(course):
    git_init(course)
    write(course / ".gitignore", "*.log\n")
    lesson = course / "lessons" / "02_second"
    write(lesson / "build" / "server", "binary\n")
    write(lesson / "build-asan" / "CMakeCache.txt", "cache\n")
    write(lesson / "trace.log", "ignored by git\n")
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout
    diff = run_tool(course, "diff", "1", "2").stdout
    assert "build" not in diff and "trace.log" not in diff


def test_check_build_copies_the_lesson_alone_and_reports_failures(course, tmp_path):
    # Stand-ins for cmake and ctest record where they ran and fail on a marker in server.cpp.
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    fake = f'#!/bin/sh\necho "$(basename "$0") $* in $PWD: $(LC_ALL=C ls | tr "\\n" " ")" >> {log}\n' \
           'if [ "$1" = "--build" ] && grep -q BROKEN server.cpp; then echo "error: it broke"; exit 2; fi\n'
    for tool in ("cmake", "ctest"):
        write(bin_dir / tool, fake)
        (bin_dir / tool).chmod(0o755)
    write(course / "lessons" / "01_first" / "build" / "stale", "old build tree\n")
    write(course / "lessons" / "02_second" / "server.cpp", SERVER_2 + "// BROKEN\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    result = run_tool(course, "check", "--build", "1", "2", env=env)
    assert result.returncode == 1
    assert any(line.startswith("01_first: build and tests ok (") for line in result.stdout.splitlines())
    failure = [line for line in problem_lines(result.stdout, "02_second") if "build:" in line]
    assert len(failure) == 1 and "`cmake --build build -j" in failure[0] and "exited 2" in failure[0]
    assert "    | error: it broke" in result.stdout
    calls = log.read_text().splitlines()
    assert calls[0].startswith("cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo in ")
    assert str(course) not in calls[0]  # built in a temporary copy, not in place
    assert calls[0].endswith("CMakeLists.txt README.md lesson.toml server.cpp util.h ")  # no build/
    assert [c.split(" in ")[0].split()[0:2] for c in calls] == [
        ["cmake", "-S"], ["cmake", "--build"], ["ctest", "--test-dir"], ["cmake", "-S"], ["cmake", "--build"]]


# --------------------------------------------------------------------------------------------------
# list and diff


def test_list_prints_every_lesson(course):
    result = run_tool(course, "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "name", "title", "features", "limitations"]
    for name in LESSONS:
        row = next(line for line in lines if f" {name} " in line)
        assert row.startswith(name[:2]) and f"Lesson {name}" in row
    row2 = next(line for line in lines if "02_second" in line)
    assert "usage echo concurrent_clients" in row2 and row2.endswith("many_clients")


def test_list_survives_a_broken_lesson_toml(course):
    set_toml(course, "02_second", "number = = 2\n")
    result = run_tool(course, "list")
    assert result.returncode == 0
    assert "lesson.toml is not valid TOML" in next(l for l in result.stdout.splitlines() if "02_second" in l)


def test_diff_shows_exactly_the_changed_lines(course):
    result = run_tool(course, "diff", "1", "02")
    assert result.returncode == 0
    out = result.stdout
    assert [l for l in out.splitlines() if l.startswith("diff ")] == [
        "diff -ruN lessons/01_first/server.cpp lessons/02_second/server.cpp",
        "diff -ruN lessons/01_first/worker.h lessons/02_second/worker.h",
    ]
    assert "--- lessons/01_first/server.cpp\n+++ lessons/02_second/server.cpp\n" in out
    changed = [l for l in out.splitlines() if l[:1] in "+-" and not l.startswith(("---", "+++"))]
    assert changed == ['-  std::puts("one");', '+  std::puts("two");', "+  return 0;",
                       "+#pragma once", "+struct Worker {};"]


def test_diff_names_lessons_three_ways_and_all_includes_readme(course):
    a = run_tool(course, "diff", "02", "3").stdout
    assert a == run_tool(course, "diff", "02_second", "lessons/03_third/").stdout
    assert a == run_tool(course, "diff", "3").stdout  # one lesson: against its previous one
    assert "README.md" not in a and "lesson.toml" not in a
    full = run_tool(course, "diff", "2", "3", "--all").stdout
    assert "+++ lessons/03_third/README.md" in full and "+++ lessons/03_third/lesson.toml" in full
    assert run_tool(course, "diff", "2", "2").stdout == ""


def test_diff_of_an_unknown_lesson_is_a_usage_error(course):
    result = run_tool(course, "diff", "1", "9")
    assert result.returncode == 2
    assert "no lesson '9'" in result.stderr


# --------------------------------------------------------------------------------------------------
# forward

FILE_LINES = ["#include <cstdio>", "// one", "int main() {", "  std::puts(\"listening\");",
              "  int a = 1;", "  int b = 2;", "  int c = 3;", "  int d = 4;", "  int e = 5;",
              "  return a + b + c + d + e;", "}"]


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def replaced(lines: list[str], index: int, new: str) -> list[str]:
    return lines[:index] + [new] + lines[index + 1:]


@pytest.fixture
def forward_course(tmp_path: Path) -> Path:
    """Lessons 01-06 in git: 01-03 hold the same server.cpp, 04 differs on the line to be fixed,
    05 differs elsewhere, 06 has no server.cpp."""
    root = tmp_path / "fwd"
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    variants = {
        "01_a": FILE_LINES, "02_b": FILE_LINES, "03_c": FILE_LINES,
        "04_d": replaced(FILE_LINES, 3, '  std::printf("listening %d\\n", 0);'),
        "05_e": replaced(FILE_LINES, 9, "  return a * b * c * d * e;"),
        "06_f": None,
    }
    for name, lines in variants.items():
        base = root / "lessons" / name
        write(base / "lesson.toml", lesson_toml(int(name[:2]), name, ["echo"], []))
        write(base / "README.md", f"# {name}\n")
        if lines is not None:
            write(base / "server.cpp", text(lines))
        write(base / "CMakeLists.txt", "project(x)\n")
    git_init(root)
    git_commit_all(root)
    return root


FIXED = replaced(FILE_LINES, 3, '  std::puts("listening on 127.0.0.1");')


def test_forward_copies_merges_and_leaves_alone(forward_course):
    root = forward_course
    lessons = root / "lessons"
    write(lessons / "01_a" / "server.cpp", text(FIXED))
    before_04 = (lessons / "04_d" / "server.cpp").read_bytes()

    result = run_tool(root, "forward", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "02_b/server.cpp: copied",
        "03_c/server.cpp: copied",
        "04_d/server.cpp: left alone: code differs",
        "05_e/server.cpp: merged",
        "06_f/server.cpp: absent",
    ]
    assert (lessons / "02_b" / "server.cpp").read_text() == text(FIXED)
    assert (lessons / "03_c" / "server.cpp").read_text() == text(FIXED)
    assert (lessons / "04_d" / "server.cpp").read_bytes() == before_04
    assert (lessons / "05_e" / "server.cpp").read_text() == \
        text(replaced(FIXED, 9, "  return a * b * c * d * e;"))
    assert not (lessons / "06_f" / "server.cpp").exists()
    assert (lessons / "01_a" / "server.cpp").read_text() == text(FIXED)  # the source stays as it was

    again = run_tool(root, "forward", "1")
    assert again.stdout.splitlines()[:3] == ["02_b/server.cpp: already fixed",
                                             "03_c/server.cpp: already fixed",
                                             "04_d/server.cpp: left alone: code differs"]


def test_forward_never_touches_earlier_lessons_and_takes_explicit_paths(forward_course):
    root = forward_course
    lessons = root / "lessons"
    write(lessons / "03_c" / "server.cpp", text(FIXED))
    write(lessons / "03_c" / "CMakeLists.txt", "project(y)\n")
    result = run_tool(root, "forward", "03_c", "lessons/03_c/server.cpp", "--dry-run")
    assert result.stdout.splitlines()[0] == "04_d/server.cpp: left alone: code differs"
    assert "05_e/server.cpp: merged" in result.stdout.splitlines()
    assert (lessons / "05_e" / "server.cpp").read_text() == text(replaced(FILE_LINES, 9, "  return a * b * c * d * e;"))

    result = run_tool(root, "forward", "3", "server.cpp")
    assert result.returncode == 0
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "04_d/server.cpp", "05_e/server.cpp", "06_f/server.cpp"]
    assert (lessons / "01_a" / "server.cpp").read_text() == text(FILE_LINES)
    assert (lessons / "02_b" / "server.cpp").read_text() == text(FILE_LINES)
    assert (lessons / "04_d" / "CMakeLists.txt").read_text() == "project(x)\n"  # not asked for


def test_forward_reports_new_files_and_uses_from_rev(forward_course):
    root = forward_course
    lessons = root / "lessons"
    write(lessons / "01_a" / "server.cpp", text(FIXED))
    write(lessons / "01_a" / "extra.h", "#pragma once\n")
    git_commit_all(root, "fix in lesson 1")  # the fix is now HEAD: forward it from HEAD~1

    nothing = run_tool(root, "forward", "1")
    assert nothing.returncode == 0
    assert nothing.stdout.splitlines() == ["01_a: no file differs from HEAD; nothing to forward"]

    result = run_tool(root, "forward", "1", "--from", "HEAD~1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "01_a/extra.h: new in 01_a (absent at HEAD~1), not forwarded" in lines
    assert "02_b/server.cpp: copied" in lines
    assert not (lessons / "02_b" / "extra.h").exists()



def test_forward_of_a_path_that_exists_nowhere_fails_and_forwards_nothing(forward_course):
    root = forward_course
    lessons = root / "lessons"
    write(lessons / "01_a" / "server.cpp", text(FIXED))
    typo = run_tool(root, "forward", "1", "server.cpp", "servr.cpp")
    assert typo.returncode == 1
    assert typo.stdout == ""
    assert typo.stderr.splitlines() == [
        "lesson forward: 01_a/servr.cpp: no such file, neither at HEAD nor in the working tree"]
    assert (lessons / "02_b" / "server.cpp").read_text() == text(FILE_LINES)  # nothing forwarded


def test_forward_fails_on_a_bad_revision(forward_course):
    result = run_tool(forward_course, "forward", "1", "--from", "no-such-rev")
    assert result.returncode == 1
    assert "'no-such-rev' is not a commit" in result.stderr


# --------------------------------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize("command", ["list", "diff", "check", "forward", "demos"])
def test_every_command_has_help(course, command):
    result = run_tool(course, command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: lesson {command}")


def test_the_wrapper_runs_the_tool(course):
    wrapper = Path(__file__).resolve().parent.parent / "lesson"
    assert os.stat(wrapper).st_mode & stat.S_IXUSR
    result = subprocess.run([str(wrapper), "--root", str(course), "list"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "03_third" in result.stdout


def test_forward_needs_git(course):
    result = run_tool(course, "forward", "1")
    assert result.returncode == 1
    assert "not in a git work tree" in result.stderr


# --------------------------------------------------------------------------------------------------
# check: code quoted in a README


def add_to_section3(course: Path, name: str, block: str) -> None:
    readme_path = course / "lessons" / name / "README.md"
    text = readme_path.read_text()
    write(readme_path, text.replace("Some lines.\n", "Some lines.\n\n" + block + "\n", 1))


def test_quotes_of_this_and_the_previous_lesson_pass(course):
    # Lesson 3 quotes its own util.h and lesson 2's worker.h (which lesson 3 removed).
    add_to_section3(course, "03_third", "```cpp\ninline int twice(int x) { return x + x; }\n...\n```\n"
                                        "```cpp\n  struct   Worker {};\n```")
    result = run_tool(course, "check")
    assert result.returncode == 0, result.stdout


def test_a_quote_that_drifted_from_the_code_fails(course):
    add_to_section3(course, "03_third", "```cpp\ninline int twice(int x) { return 3 * x; }\n```")
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = problem_lines(result.stdout, "03_third")
    assert any("return 3 * x;" in line for line in problems), result.stdout


def test_pseudo_code_in_a_text_block_is_not_checked(course):
    add_to_section3(course, "03_third", "```text\nwhile (!quit) wait();\n```")
    assert run_tool(course, "check").returncode == 0
