"""What a lesson promises: its lesson.toml, checked against the feature vocabulary (tools/features.toml).

Kept free of pytest so the rules read as plain data checks; conftest.py turns the problems found here
into a usage error and the decisions into pytest markers.
"""

import os
import tomllib
from dataclasses import dataclass, field

# The vocabulary lives next to this suite: tools/features.toml.
FEATURES_TOML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "features.toml")


class LessonError(Exception):
    """lesson.toml or features.toml is missing or inconsistent; the message says what to fix."""


def load_vocabulary(path=FEATURES_TOML):
    """The feature names the suite knows, with their one-line descriptions."""
    path = os.path.normpath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LessonError(f"cannot read the feature vocabulary {path}: {e}") from e
    features = data.get("features")
    if not isinstance(features, dict) or not features:
        raise LessonError(f"{path}: expected a non-empty [features] table")
    return features


@dataclass
class Lesson:
    name: str
    directory: str
    server: str  # the executable's name in the build directory
    features: list = field(default_factory=list)
    limitations: list = field(default_factory=list)
    retired: dict = field(default_factory=dict)  # feature -> why this lesson no longer passes it
    server_args: list = field(default_factory=list)  # passed to every server the suite starts
    vocabulary: dict = field(default_factory=dict)  # every feature name the suite knows

    def declared(self):
        """Every feature whose tests run for this lesson (as passing or as strict xfail)."""
        return set(self.features) | set(self.limitations)

    def decide(self, feature):
        """How a test of `feature` runs here: ("run", None), ("xfail", reason), ("skip", reason) for a
        feature retired here, or ("absent", reason): a feature this lesson does not have yet."""
        if feature in self.features:
            return "run", None
        if feature in self.limitations:
            reason = f"limitation of {self.name}: {feature}"
            if feature in self.retired:
                reason += f" (retired here: {self.retired[feature]})"
            return "xfail", reason
        if feature in self.retired:
            return "skip", f"feature {feature} retired in {self.name}: {self.retired[feature]}"
        return "absent", f"feature {feature} not in {self.name}"


def _string_list(data, key, where):
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LessonError(f"{where}: `{key}` must be a list of strings")
    return value


def load_lesson(lesson_dir, vocabulary):
    """Read <lesson_dir>/lesson.toml and check its feature lists against the vocabulary."""
    where = os.path.join(lesson_dir, "lesson.toml")
    try:
        with open(where, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LessonError(f"cannot read {where}: {e}") from e

    name = data.get("name") or os.path.basename(os.path.normpath(lesson_dir))
    server = data.get("server")
    if not isinstance(server, str) or not server:
        raise LessonError(f"{where}: `server` (the executable the suite starts) is missing")
    features = _string_list(data, "features", where)
    server_args = _string_list(data, "server_args", where)
    limitations = _string_list(data, "limitations", where)
    retired = data.get("retired", {})
    if not isinstance(retired, dict) or not all(isinstance(v, str) for v in retired.values()):
        raise LessonError(f"{where}: [retired] must map feature names to reasons (strings)")

    problems = []
    for key, names in (("features", features), ("limitations", limitations), ("retired", list(retired))):
        for n in names:
            if n not in vocabulary:
                problems.append(f"`{key}` names {n!r}, which is not in the feature vocabulary")
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            problems.append(f"`{key}` lists {', '.join(dups)} more than once")
    for n in sorted(set(features) & set(limitations)):
        problems.append(f"{n!r} is both a feature and a limitation")
    # A retired feature may be a limitation too (it then runs as a strict xfail: the lesson must
    # fail it), but never a feature: [retired] says this lesson no longer passes it.
    for n in sorted(set(retired) & set(features)):
        problems.append(f"{n!r} is retired and still listed as a feature")
    if problems:
        raise LessonError(f"{where}:\n  " + "\n  ".join(problems) +
                          f"\n  (vocabulary: {os.path.normpath(FEATURES_TOML)})")
    return Lesson(name=name, directory=lesson_dir, server=server, features=features,
                  limitations=limitations, retired=retired, vocabulary=vocabulary,
                  server_args=server_args)
