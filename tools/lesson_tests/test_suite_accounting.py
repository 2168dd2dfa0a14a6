"""The client suite's reading of lesson.toml (tools/client_suite/harness/lesson.py), [retired] rules.

The lesson tool (`check`) and the client suite each read lesson.toml; these tests hold the suite to
the same rule as test_lesson_tool.py holds the tool: a retired feature may also be a limitation
(then it runs as a strict xfail), never a feature.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parent.parent / "client_suite"


def load_harness_lesson():
    spec = importlib.util.spec_from_file_location("client_suite_harness_lesson",
                                                  SUITE / "harness" / "lesson.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = load_harness_lesson()
VOCABULARY = {name: "what it means" for name in ("echo", "large_message", "slow_reader", "half_close")}


def lesson_dir(tmp_path: Path, features, limitations, retired: dict) -> Path:
    directory = tmp_path / "03_epoll"
    directory.mkdir()
    table = "".join(f'{name} = "{reason}"\n' for name, reason in retired.items())
    (directory / "lesson.toml").write_text(
        f'name = "03_epoll"\nserver = "server"\nfeatures = {features!r}\nlimitations = {limitations!r}\n'
        .replace("'", '"') + (f"[retired]\n{table}" if retired else ""))
    return directory


def test_retired_and_limitation_runs_as_strict_xfail_with_both_reasons(tmp_path):
    directory = lesson_dir(tmp_path, ["echo"], ["slow_reader"], {"slow_reader": "output is dropped"})
    lesson = harness.load_lesson(str(directory), VOCABULARY)
    action, reason = lesson.decide("slow_reader")
    assert action == "xfail"
    assert "limitation of 03_epoll: slow_reader" in reason and "output is dropped" in reason
    assert "slow_reader" in lesson.declared()


def test_retired_only_is_skipped_with_its_reason(tmp_path):
    directory = lesson_dir(tmp_path, ["echo"], [], {"large_message": "flaky without output buffer"})
    lesson = harness.load_lesson(str(directory), VOCABULARY)
    assert lesson.decide("large_message") == (
        "skip", "feature large_message retired in 03_epoll: flaky without output buffer")
    assert lesson.decide("half_close") == ("absent", "feature half_close not in 03_epoll")
    assert lesson.decide("echo") == ("run", None)


def test_retired_and_feature_is_an_error(tmp_path):
    directory = lesson_dir(tmp_path, ["echo", "slow_reader"], [], {"slow_reader": "gone"})
    with pytest.raises(harness.LessonError, match="'slow_reader' is retired and still listed as a feature"):
        harness.load_lesson(str(directory), VOCABULARY)


def test_retired_name_outside_the_vocabulary_is_an_error(tmp_path):
    directory = lesson_dir(tmp_path, ["echo"], [], {"teleport": "never was"})
    with pytest.raises(harness.LessonError, match="`retired` names 'teleport'"):
        harness.load_lesson(str(directory), VOCABULARY)


@pytest.mark.parametrize("features, limitations, exit_code", [
    (["echo"], ["slow_reader"], 0),  # retired and a limitation: accepted
    (["echo", "slow_reader"], [], 4),  # retired and a feature: the suite refuses to run
])
def test_the_suite_applies_the_rule_before_running(tmp_path, features, limitations, exit_code):
    # Against the real suite and vocabulary; collecting only, so no server is started (any
    # executable satisfies the check that it exists).
    directory = lesson_dir(tmp_path, features, limitations, {"slow_reader": "output is dropped"})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider", "--collect-only",
         "--lesson", str(directory), "--server", sys.executable],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == exit_code, result.stdout + result.stderr
    if exit_code:
        assert "'slow_reader' is retired and still listed as a feature" in result.stderr
