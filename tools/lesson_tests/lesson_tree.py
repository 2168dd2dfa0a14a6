"""Helpers for the lesson tool's tests: small fake course trees in a temporary directory.

(A module of its own, not conftest.py, so that importing it cannot clash with another suite's
conftest when pytest collects several directories at once.)

The fake course has three lessons whose README change lists are written out by hand (not computed
the way the tool computes them), so that the tests compare the tool against an independent answer:

    01_first   CMakeLists.txt, server.cpp, util.h                    (all added)
    02_second  server.cpp modified, worker.h added
    03_third   util.h modified, worker.h removed, tests/test_util.cpp added
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "lesson.py"

VOCABULARY = ["usage", "echo", "concurrent_clients", "many_clients", "peer_reset"]

SECTION_TEXT = {
    1: "## 1. The problem\n\nThe previous lesson left a problem.\n",
    2: "## 2. The idea\n\n```mermaid\nsequenceDiagram\n```\n\n```sh\n## a shell comment, not a heading\n```\n",
    3: "## 3. The code\n\n### server.cpp\n\nSome lines.\n",
    4: "## 4. Run it\n\n    cmake -S . -B build\n",
    5: "## 5. Test it\n\n    ctest --test-dir build\n",
    7: "## 7. Exercises and further reading\n\n1. Do something.\n",
}


def readme(number: int, changes: list[str], *, heading6: str | None = None) -> str:
    """A README with the seven sections; changes are the bullet lines of section 6."""
    heading6 = heading6 or f"## 6. What changed since lesson {number - 1:02d}"
    section6 = (f"{heading6}\n\n" + "\n".join(changes) + "\n\n"
                + f"- Run `tools/lesson diff {number}`: shows the code diff.\n")
    parts = [SECTION_TEXT[i] if i != 6 else section6 for i in range(1, 8)]
    return f"# Lesson {number}\n\nIntro.\n\n" + "\n".join(parts)


def lesson_toml(number: int, name: str, features: list[str], limitations: list[str],
                extra: str = "") -> str:
    return (f'number = {number}\nname = "{name}"\ntitle = "Lesson {name}"\n'
            f'components = ["thing {number}"]\nexecutables = ["server"]\nserver = "server"\n'
            f"threads = false\nfeatures = {features!r}\nlimitations = {limitations!r}\n".replace("'", '"')
            + extra)


SERVER_1 = "#include <cstdio>\nint main() {\n  std::puts(\"one\");\n}\n"
SERVER_2 = "#include <cstdio>\nint main() {\n  std::puts(\"two\");\n  return 0;\n}\n"
UTIL_1 = "#pragma once\ninline int twice(int x) { return 2 * x; }\n"
UTIL_3 = "#pragma once\ninline int twice(int x) { return x + x; }\n"
CMAKE = "cmake_minimum_required(VERSION 3.16...3.28)\nproject(demo CXX)\nadd_executable(server server.cpp)\n"

LESSONS = {
    "01_first": dict(
        files={"CMakeLists.txt": CMAKE, "server.cpp": SERVER_1, "util.h": UTIL_1},
        features=["usage", "echo"], limitations=["concurrent_clients"],
        changes=["- added `CMakeLists.txt`: how to build it.",
                 "- added `server.cpp`: the server.",
                 "- added `util.h`: a helper."]),
    "02_second": dict(
        files={"CMakeLists.txt": CMAKE, "server.cpp": SERVER_2, "util.h": UTIL_1,
               "worker.h": "#pragma once\nstruct Worker {};\n"},
        features=["usage", "echo", "concurrent_clients"], limitations=["many_clients"],
        changes=["- modified `server.cpp`: returns 0.", "- added `worker.h`: a worker."]),
    "03_third": dict(
        files={"CMakeLists.txt": CMAKE, "server.cpp": SERVER_2, "util.h": UTIL_3,
               "tests/test_util.cpp": '#include "../util.h"\nint main() { return twice(0); }\n'},
        features=["usage", "echo", "concurrent_clients", "many_clients"], limitations=[],
        changes=["- modified `util.h`: adds instead of multiplying.",
                 "- removed `worker.h`: no longer needed.",
                 "- added `tests/test_util.cpp`: a test of util.h."]),
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_course(root: Path) -> Path:
    vocabulary = "\n".join(f'{name} = "what {name} means"' for name in VOCABULARY)
    write(root / "tools" / "features.toml", f"[features]\n{vocabulary}\n")
    for name, spec in LESSONS.items():
        number = int(name[:2])
        base = root / "lessons" / name
        for rel, text in spec["files"].items():
            write(base / rel, text)
        write(base / "lesson.toml", lesson_toml(number, name, spec["features"], spec["limitations"]))
        write(base / "README.md", readme(number, spec["changes"]))
    return root


def run_tool(root: Path, *args: str, cwd: Path | None = None, env: dict | None = None
             ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "--root", str(root), *args],
                          cwd=cwd or root, capture_output=True, text=True, env=env)


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def git_init(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "config", "user.name", "Lesson Tests")
    git(root, "config", "user.email", "lesson-tests@example.invalid")
    git(root, "config", "commit.gpgsign", "false")


def git_commit_all(root: Path, message: str = "snapshot") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
