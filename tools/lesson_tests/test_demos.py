"""Tests of `lesson demos` (and of the demo markers `lesson check` reads), on tiny fake lessons.

A fake lesson's CMakeLists.txt compiles nothing (`project(... NONE)`): configuring it writes a file
into the build tree, which the demos read, so a build takes a fraction of a second."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

from lesson_tree import LESSONS, SECTION_TEXT, TOOL, lesson_toml, readme, run_tool, write

# The fake lesson.toml names one executable, "server": the demos build only that target, never the
# rest (the unit tests, here a target that fails if it is ever built).
FAKE_CMAKE = ("cmake_minimum_required(VERSION 3.16)\nproject(fake NONE)\n"
              'file(WRITE "${{CMAKE_BINARY_DIR}}/greeting" "greetings from lesson {number}\\n")\n'
              "add_custom_target(server)\n"
              "add_custom_target(unit_tests ALL COMMAND ${{CMAKE_COMMAND}} -E false)\n")

# A server in the spirit of the course's: takes --port, says where it listens, echoes one message.
SERVE_PY = """\
import socket, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
server = socket.create_server(("127.0.0.1", port))
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
client = socket.create_connection(("127.0.0.1", port))
conn, _ = server.accept()
client.sendall(b"ping")
print("echoed", conn.recv(4).decode(), flush=True)
"""


def demo(script: str, expected: str, *options: str, fence: str = "text") -> str:
    """A marked demo: the comment with its options, the script block, the output block."""
    comment = "<!-- demo -->" if not options else "<!-- demo\n" + "\n".join(options) + "\n-->"
    return f"{comment}\n```sh\n{script}```\n\n```{fence}\n{expected}```\n"


def lesson_readme(number: int, section1: list[str] = (), section4: list[str] = (),
                  changes: list[str] = ()) -> str:
    """A README with the seven sections; the blocks are appended to sections 1 and 4."""
    text = readme(number, list(changes))
    for key, blocks in ((1, section1), (4, section4)):
        text = text.replace(SECTION_TEXT[key], SECTION_TEXT[key] + "".join(f"\n{b}" for b in blocks))
    return text


def make_lesson(root: Path, name: str, readme_text: str, cmake: str | None = None,
                files: dict[str, str] | None = None) -> None:
    base = root / "lessons" / name
    number = int(name[:2])
    write(base / "CMakeLists.txt", cmake or FAKE_CMAKE.format(number=number))
    write(base / "lesson.toml", lesson_toml(number, name, ["echo"], []))
    write(base / "README.md", readme_text)
    for rel, text in (files or {}).items():
        write(base / rel, text)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth line of text that starts with needle."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if line.startswith(needle)]
    return hits[nth - 1]


def demo_lines(output: str, lesson: str) -> dict[int, str]:
    """demo number -> its report line."""
    found = {}
    for line in output.splitlines():
        match = re.match(rf"^{lesson}: demo (\d+) \(", line)
        if match:
            found[int(match.group(1))] = line
    return found


def block_after(output: str, header: str) -> list[str]:
    """The indented lines that follow the line starting with header."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        block.append(line[4:])
    return block


def process_gone(pid: int) -> bool:
    """True when pid no longer runs (an unreaped zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


# --------------------------------------------------------------------------------------------------
# One run of a course that exercises every rule; the tests below each read one part of its report.


class DemoCourse:
    def __init__(self, root: Path, pid_files: dict[str, Path]):
        self.root, self.pid_files = root, pid_files
        self.readme2 = (root / "lessons" / "02_second" / "README.md").read_text()
        self.result = None

    @property
    def out(self) -> str:
        return self.result.stdout


@pytest.fixture(scope="module")
def demo_course(tmp_path_factory) -> DemoCourse:
    root = tmp_path_factory.mktemp("demos")
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    pids = {name: root / f"{name}.pid" for name in ("timeout", "leftover")}
    # The test holds this port for the whole run: a demo that ran a server on it without the
    # checker's substitution would fail to bind.
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]

    make_lesson(root, "01_first", lesson_readme(
        1, section1=["```sh\necho an unmarked block\n```\n"],
        section4=[demo("cat build/greeting\n", "greetings from lesson 1\n")]))
    make_lesson(root, "02_second", lesson_readme(2, section1=[
        # 1: the previous lesson, built beside this one
        demo("cat ../01_first/build/greeting\n", "greetings from lesson 1\n"),
    ], section4=[
        # 2: passes; trailing whitespace and blank lines at the end do not count
        demo("echo hello\ncat build/greeting\nprintf 'spaces   \\n\\n\\n'\n",
             "hello\ngreetings from lesson 2\nspaces\n\n"),
        # 3: a stale transcript
        demo("echo one; echo two; echo three\n", "one\nTWO\nthree\n"),
        # 4: `...` stands for zero lines (at both ends) and for several
        demo("seq 1 10\n", "...\n1\n...\n5\n6\n...\n10\n...\n", fence=""),
        # 5: vary
        demo("echo \"accepted 127.0.0.1:$((40000 + RANDOM % 20000)) (1 clients)\"\n",
             "accepted 127.0.0.1:51234 (1 clients)\n", r"vary: 127\.0\.0\.1:\d+"),
        # 6: ranges within bounds, an integer and a float
        demo("echo 'took 42 ms'; echo 'load 0.75 now'\n", "took 12 ms\nload 1 now\n",
             r"range: ^took (\d+) ms$ 10..100", r"range: load ([\d.]+) 0.5..1.0"),
        # 7: a value out of range
        demo("echo 'took 420 ms'\n", "took 12 ms\n", r"range: ^took (\d+) ms$ 10..100"),
        # 8: unordered: the same lines in another order
        demo("printf 'b\\na\\nc\\n'\n", "a\nb\nc\n", "unordered"),
        # 9: unordered counts repeated lines
        demo("printf 'a\\na\\nb\\n'\n", "a\nb\nb\n", "unordered"),
        # 10: the port of the text is replaced by a free one, and back in the output
        demo(f"{sys.executable} serve.py --port {port}\necho \"done with {port}\"\n",
             f"listening on 127.0.0.1:{port}\nechoed ping\ndone with {port}\n"),
        # 11: a timeout
        demo(f"sleep 30 & echo $! > {pids['timeout']}\nwait\n", "", "timeout: 0.5"),
        # 12: a process left running
        demo(f"sleep 30 & echo $! > {pids['leftover']}\necho started\n", "started\n"),
        # 13: a failure does not stop the demos after it
        demo("echo still here\n", "still here\n"),
    ]), files={"serve.py": SERVE_PY})

    course = DemoCourse(root, pids)
    try:
        course.result = run_tool(root, "demos")
    finally:
        taken.close()
    return course


def test_demos_report_and_summary(demo_course):
    out = demo_course.out
    assert demo_course.result.returncode == 1, out
    assert out.splitlines()[-1] == "demos: 14 run in 2 lessons, 5 failed"
    failed = {n for n, line in demo_lines(out, "02_second").items() if ": FAILED" in line}
    assert failed == {3, 7, 9, 11, 12}, out


def test_a_passing_demo_reports_its_place(demo_course):
    readme2 = demo_course.readme2
    line = demo_lines(demo_course.out, "02_second")[2]
    sh_line = line_of(readme2, "```sh", nth=3)  # demo 1's, then section 2's (no demo), then demo 2's
    assert re.fullmatch(rf"02_second: demo 2 \(section 4, README line {sh_line}\): ok \(\d+\.\d s\)",
                        line)
    assert re.fullmatch(r"01_first: demo 1 \(section 4, README line \d+\): ok \(\d+\.\d s\)",
                        demo_lines(demo_course.out, "01_first")[1])


def test_a_stale_transcript_fails_with_a_diff(demo_course):
    out = demo_course.out
    assert re.fullmatch(r"02_second: demo 3 \(section 4, README line \d+\): FAILED \(\d+\.\d s\): "
                        "the output differs from the text", demo_lines(out, "02_second")[3])
    block = block_after(out, "02_second: demo 3 ")
    assert block[0].startswith("--- expected (README line ")
    assert block[1] == "+++ actual (after substitutions)"
    assert [l for l in block if l[:1] in "+-" and not l.startswith(("---", "+++"))] == ["-TWO", "+two"]
    assert block[block.index("the output ends with:") + 1:] == ["| one", "| two", "| three"]


def test_ellipsis_matches_zero_or_more_lines(demo_course):
    assert ": ok (" in demo_lines(demo_course.out, "02_second")[4]


def test_vary_replaces_what_changes_from_run_to_run(demo_course):
    assert ": ok (" in demo_lines(demo_course.out, "02_second")[5]


def test_range_accepts_numbers_within_its_bounds(demo_course):
    assert ": ok (" in demo_lines(demo_course.out, "02_second")[6]


def test_range_rejects_a_number_outside_its_bounds(demo_course):
    lines = demo_lines(demo_course.out, "02_second")
    assert "FAILED" in lines[7] and "the output differs from the text" in lines[7]
    diff = block_after(demo_course.out, "02_second: demo 7 ")
    assert "-took <10..100> ms" in diff and "+took <420 not in 10..100> ms" in diff


def test_unordered_compares_multisets(demo_course):
    lines = demo_lines(demo_course.out, "02_second")
    assert ": ok (" in lines[8]
    assert "FAILED" in lines[9]
    diff = block_after(demo_course.out, "02_second: demo 9 ")
    assert diff[0].endswith(", sorted)") and diff[1] == "+++ actual (after substitutions, sorted)"
    assert [l for l in diff if l[:1] in "+-" and not l.startswith(("---", "+++"))] == ["+a", "-b"]


def test_ports_are_replaced_in_the_script_and_back_in_the_output(demo_course):
    # The test held the README's port during the run, so binding it would have failed: the server
    # ran on another port, and its output was mapped back to the README's.
    assert ": ok (" in demo_lines(demo_course.out, "02_second")[10], demo_course.out


def test_a_demo_that_runs_too_long_is_killed(demo_course):
    line = demo_lines(demo_course.out, "02_second")[11]
    assert "FAILED" in line and line.endswith("timed out after 0.5 s"), line
    elapsed = float(re.search(r"FAILED \((\d+\.\d) s\)", line).group(1))
    assert 0.5 <= elapsed < 5
    assert process_gone(int(demo_course.pid_files["timeout"].read_text()))


def test_a_demo_that_leaves_a_process_running_fails_and_the_process_is_killed(demo_course):
    line = demo_lines(demo_course.out, "02_second")[12]
    pid = int(demo_course.pid_files["leftover"].read_text())
    # The pid is that of the forked shell, which may not have become `sleep 30` yet.
    assert "FAILED" in line and re.search(rf"left processes running: {pid} \((sleep 30|bash .*)\)$",
                                          line), line
    assert process_gone(pid)


def test_demos_go_on_after_a_failure(demo_course):
    assert ": ok (" in demo_lines(demo_course.out, "02_second")[13]


def test_a_section_one_demo_runs_the_previous_lesson_built_beside_it(demo_course):
    out = demo_course.out
    assert ": ok (" in demo_lines(out, "02_second")[1]
    assert demo_lines(out, "02_second")[1].startswith("02_second: demo 1 (section 1, README line ")
    # Lesson 1 is needed twice (its own demo, lesson 2's section 1) and built once.
    builds = [l for l in out.splitlines() if l.startswith("01_first: built in a standalone copy")]
    assert len(builds) == 1


def test_unmarked_shell_blocks_of_sections_1_and_4_are_noted(demo_course):
    readme1 = (demo_course.root / "lessons" / "01_first" / "README.md").read_text()
    notes = [l for l in demo_course.out.splitlines() if ": note: " in l]
    # The ```sh block of section 2 (in every fake README) is not one of them.
    assert notes == [f"01_first: note: unchecked sh block at README line "
                     f"{line_of(readme1, '```sh')} (section 1)"]


def test_list_shows_demos_without_building(demo_course):
    result = run_tool(demo_course.root, "demos", "--list", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # One line per demo and the summary: nothing was built.
    assert len(lines) == 14 and lines[-1] == "demos: 13 in 1 lessons (listed, not run)"
    assert lines[0] == (f"02_second: demo 1 (section 1, README line "
                        f"{line_of(demo_course.readme2, '```sh')}): $ cat ../01_first/build/greeting")
    assert lines[10] == (f"02_second: demo 11 (section 4, README line "
                         f"{line_of(demo_course.readme2, '```sh', nth=12)}): "
                         f"$ sleep 30 & echo $! > {demo_course.pid_files['timeout']}")


# --------------------------------------------------------------------------------------------------
# Smaller courses


def test_a_build_failure_fails_the_lessons_demos_and_keep_keeps_the_tree(tmp_path):
    root = tmp_path / "broken"
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    make_lesson(root, "01_first", lesson_readme(1, section4=[demo("echo hi\n", "hi\n")]),
                cmake='cmake_minimum_required(VERSION 3.16)\nproject(x NONE)\n'
                      'message(FATAL_ERROR "this lesson does not configure")\n')
    result = run_tool(root, "demos", "--keep", "01")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("01_first: build FAILED: `cmake -S . -B build "
                               "-DCMAKE_BUILD_TYPE=RelWithDebInfo` exited 1")
    assert any("this lesson does not configure" in line for line in lines)
    assert re.match(r"01_first: demo 1 \(section 4, README line \d+\): FAILED: not run: "
                    r"01_first did not build$", lines[-3])
    kept = re.fullmatch(r"demos: kept the temporary tree (\S+)", lines[-2])
    assert kept and Path(kept.group(1), "lessons", "01_first", "CMakeLists.txt").is_file()
    shutil.rmtree(kept.group(1))
    assert lines[-1] == "demos: 1 run in 1 lessons, 1 failed"


def test_a_section_one_demo_alone_gets_the_previous_lesson_built(tmp_path):
    root = tmp_path / "pair"
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    make_lesson(root, "01_first", lesson_readme(1))
    make_lesson(root, "02_second", lesson_readme(2, section1=[
        demo("cat ../01_first/build/greeting build/greeting\n",
             "greetings from lesson 1\ngreetings from lesson 2\n")]))
    result = run_tool(root, "demos", "2")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "01_first: built in a standalone copy", "02_second: built in a standalone copy",
        "02_second: demo 1", "demos: 1 run in 1 lessons, 0 failed"]


def test_prebuilt_programs_are_taken_when_newer_than_the_lesson_and_built_otherwise(tmp_path):
    root = tmp_path / "prebuilt"
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    make_lesson(root, "01_first", lesson_readme(1, section4=[demo("build/server\n", "prebuilt\n")]))
    make_lesson(root, "02_second", lesson_readme(2, section4=[demo("cat build/greeting\n",
                                                                   "greetings from lesson 2\n")]))
    prebuilt = tmp_path / "build" / "lessons"
    for name in ("01_first", "02_second"):
        write(prebuilt / name / "server", "#!/bin/sh\necho prebuilt\n")
        (prebuilt / name / "server").chmod(0o755)
    write(prebuilt / "01_first" / "libreactor.a", "not really an archive\n")
    # Lesson 2 changed after its programs were built: its copy is built again.
    newer = (prebuilt / "02_second" / "server").stat().st_mtime + 10
    os.utime(root / "lessons" / "02_second" / "README.md", (newer, newer))
    result = run_tool(root, "demos", "--keep", "--prebuilt", str(prebuilt))
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:-2]] == [
        f"01_first: programs taken from {prebuilt.resolve() / '01_first'}", "01_first: demo 1",
        "02_second: built in a standalone copy", "02_second: demo 1"]
    kept = Path(re.fullmatch(r"demos: kept the temporary tree (\S+)", lines[-2]).group(1))
    assert (kept / "lessons" / "01_first" / "build" / "libreactor.a").is_file()
    shutil.rmtree(kept)


def test_files_a_demo_truncates_are_removed_before_it_runs_and_appended_ones_kept(tmp_path):
    # Demo 2 checks its log before writing it: left from demo 1, a stale log is what a
    # `until grep -q listening build/server.log` would have read before the new server wrote it.
    root = tmp_path / "outputs"
    write(root / "tools" / "features.toml", '[features]\necho = "echo"\n')
    make_lesson(root, "01_first", lesson_readme(1, section4=[
        demo("echo listening > build/server.log; echo one >> build/app.log\n", ""),
        demo("test -e build/server.log && echo stale log || echo no log\n"
             "build/server --port 9877 > build/server.log; cat build/server.log\n"
             "echo two >> build/app.log; cat build/app.log\n",
             "no log\nfresh\none\ntwo\n")]))
    prebuilt = tmp_path / "build" / "lessons"
    write(prebuilt / "01_first" / "server", "#!/bin/sh\necho fresh\n")
    (prebuilt / "01_first" / "server").chmod(0o755)
    result = run_tool(root, "demos", "--prebuilt", str(prebuilt))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "demos: 2 run in 1 lessons, 0 failed"


def test_a_lesson_without_demos_builds_nothing(course):
    result = run_tool(course, "demos", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["demos: 0 run in 1 lessons, 0 failed"]


def test_an_unknown_lesson_is_a_usage_error(course):
    result = run_tool(course, "demos", "7")
    assert result.returncode == 2 and "no lesson '7'" in result.stderr


MALFORMED = {
    "unknown option": ("<!-- demo\ntimeout: 5\nsorted\n-->", "unknown option 'sorted'"),
    "bad regex": ("<!-- demo vary: 127.0.0.1:(\\d+ -->", "vary: bad regex '127.0.0.1:(\\\\d+'"),
    "range without a group": ("<!-- demo\nrange: took \\d+ ms 1..5\n-->",
                              "range: 'took \\\\d+ ms' must have exactly one group"),
    "range with two groups": ("<!-- demo\nrange: (took) (\\d+) ms 1..5\n-->", "it has 2"),
    "range without bounds": ("<!-- demo\nrange: took (\\d+) ms\n-->", "is not 'REGEX LOW..HIGH'"),
    "bad timeout": ("<!-- demo timeout: soon -->", "timeout: 'soon' is not a positive number"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_check_reports_a_malformed_marker(course, case):
    marker, message = MALFORMED[case]
    text = lesson_readme(2, section4=[marker + "\n```sh\necho hi\n```\n\n```\nhi\n```\n"],
                         changes=LESSONS["02_second"]["changes"])
    write(course / "lessons" / "02_second" / "README.md", text)
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = [l for l in result.stdout.splitlines() if l.startswith("02_second: ")]
    assert len(problems) == 1, result.stdout
    assert problems[0].startswith(f"02_second: README line {line_of(text, '<!-- demo')}: demo 1: ")
    assert message in problems[0], problems[0]
    listed = run_tool(course, "demos", "--list", "2")
    assert "malformed" in listed.stdout


def test_check_reports_a_marker_without_its_blocks(course):
    path = course / "lessons" / "02_second" / "README.md"
    text = path.read_text()
    text = text.replace(SECTION_TEXT[4], SECTION_TEXT[4]
                        + "\n<!-- demo -->\nSome words.\n\n```sh\necho a\n```\n\n```\na\n```\n"
                        + "\n<!-- demo -->\n```sh\necho b\n```\n\nNo output block.\n"
                        + "\n<!-- demo -->\n```sh\necho c\n```\n\n```text\nc\n```\n")
    path.write_text(text)
    result = run_tool(course, "check")
    assert result.returncode == 1
    problems = [l for l in result.stdout.splitlines() if l.startswith("02_second: ")]
    markers = [i for i, l in enumerate(text.splitlines(), start=1) if l == "<!-- demo -->"]
    assert problems == [
        f"02_second: README line {markers[0]}: demo 1: the comment must be followed, after blank "
        "lines only, by a ```sh block (the script)",
        f"02_second: README line {markers[1]}: demo 2: the ```sh block (line {markers[1] + 1}) must "
        "be followed, after blank lines only, by a closed ``` or ```text block (the expected output)",
    ]  # the third demo is well-formed


def test_a_marker_inside_a_code_block_is_code(course):
    path = course / "lessons" / "02_second" / "README.md"
    path.write_text(path.read_text().replace(SECTION_TEXT[3], SECTION_TEXT[3]
                                             + "\n```text\n<!-- demo nonsense -->\n```\n"))
    assert run_tool(course, "check").returncode == 0
    listed = run_tool(course, "demos", "--list").stdout.splitlines()
    assert listed == ["demos: 0 in 3 lessons (listed, not run)"]


# --------------------------------------------------------------------------------------------------
# The matching rules, directly


def load_tool():
    spec = importlib.util.spec_from_file_location("lesson_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lesson_tool"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


tool = load_tool()


@pytest.mark.parametrize("expected, actual, matches", [
    (["a", "b"], ["a", "b"], True),
    (["a", "b"], ["a"], False),
    ([None], [], True),
    ([None], ["x", "y"], True),
    (["a", None, "c"], ["a", "c"], True),
    (["a", None, "c"], ["a", "b", "b", "c"], True),
    (["a", None, "c"], ["a", "b", "c", "d"], False),
    ([None, "b", None, "b"], ["b", "x", "b", "b"], True),
    ([None, "b", "c"], ["b", "b", "c"], True),
    (["a", None], ["b"], False),
])
def test_lines_match(expected, actual, matches):
    assert tool.lines_match(expected, actual) is matches


def test_a_diff_shows_what_an_ellipsis_stands_for_as_context():
    expected = ["start", None, "end", "tail"]
    actual = ["start", "x1", "x2", "end", "TAIL"]
    assert tool.expand_ellipses(expected, actual) == ["start", "x1", "x2", "end", "tail"]
    assert tool.expand_ellipses(["a", None], ["a", "x", "y"]) == ["a", "x", "y"]
    assert tool.expand_ellipses([None, "b"], ["x", "b", "c"]) == ["x", "b"]


def test_port_words_are_replaced_in_one_pass():
    assert tool.replace_words("--port 9877 9877x 19877 :9877 9878", {"9877": "9878", "9878": "1"}) \
        == "--port 9878 9877x 19877 :9878 1"
    assert tool.demo_ports("a --port 9877; b --port=9878 --port 0 --port 9877") == ["9877", "9878"]


def test_only_valid_ports_are_replaced():
    # A demo that shows the server refusing a bad port must keep that port.
    assert tool.demo_ports("--port 99999; --port 65536; --port 65535; --port 00") == ["65535"]
