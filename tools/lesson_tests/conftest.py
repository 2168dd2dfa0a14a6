"""Fixtures of the lesson tool's tests; the helpers live in lesson_tree.py."""

from pathlib import Path

import pytest

from lesson_tree import make_course


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A correct three-lesson course (not a git repository)."""
    return make_course(tmp_path / "course")
