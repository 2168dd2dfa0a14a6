"""The shared client suite: black-box tests of a lesson's server against the lesson contract.

Run (from the repository root):
    python3 -m pytest tools/client_suite -q -p no:cacheprovider \
        --lesson lessons/01_socket --build-dir build/lessons/01_socket

Feature accounting. Every test carries exactly one @pytest.mark.feature("name"), a name from
tools/features.toml. For the lesson under test a feature in `features` runs normally, one in
`limitations` runs as a strict xfail (it must fail, by an assertion), one [retired] here is skipped with
the reason, and any other (a feature of later lessons) is left out of the run.
Inconsistencies between the suite, the vocabulary and lesson.toml stop the run before any test.
"""

import os
import random
import zlib

import pytest

from harness import lesson as lessonlib
from harness.server import ServerProcess, raise_fd_limit

LESSON_KEY = pytest.StashKey()
EXE_KEY = pytest.StashKey()
SUITE_DIR = os.path.dirname(os.path.abspath(__file__))


def pytest_addoption(parser):
    group = parser.getgroup("client suite")
    group.addoption("--lesson", metavar="DIR",
                    help="the lesson directory (holding lesson.toml) whose server is tested")
    group.addoption("--build-dir", metavar="DIR",
                    help="where the lesson's executables were built (default: <lesson>/build)")
    group.addoption("--server", metavar="PATH",
                    help="the server executable to test (default: <build-dir>/<server from lesson.toml>)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "feature(name): the client-suite feature (tools/features.toml) this test checks")


def pytest_sessionstart(session):
    """Load and check lesson.toml before collecting, so a bad lesson stops the run at once."""
    config = session.config
    lesson_dir = config.getoption("lesson", None)
    if not lesson_dir:
        raise pytest.UsageError("the client suite needs --lesson lessons/NN_name (see tools/client_suite/README.md)")
    lesson_dir = os.path.abspath(lesson_dir)
    try:
        vocabulary = lessonlib.load_vocabulary()
        lesson = lessonlib.load_lesson(lesson_dir, vocabulary)
    except lessonlib.LessonError as e:
        raise pytest.UsageError(str(e)) from e

    build_dir = os.path.abspath(config.getoption("build_dir") or os.path.join(lesson_dir, "build"))
    exe = os.path.abspath(config.getoption("server") or os.path.join(build_dir, lesson.server))
    if lesson.declared() and not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise pytest.UsageError(f"server executable {exe} not found or not executable: build the lesson "
                                "first, or pass --build-dir / --server")
    config.stash[LESSON_KEY] = lesson
    config.stash[EXE_KEY] = exe
    # The many-clients test needs 1000+ descriptors here and in the server, which inherits our limit.
    raise_fd_limit(8192)


def pytest_report_header(config):
    lesson = config.stash.get(LESSON_KEY, None)
    if lesson is None:
        return None
    return [f"lesson: {lesson.name}, server: {config.stash[EXE_KEY]}",
            f"features: {', '.join(lesson.features) or '-'}; limitations: {', '.join(lesson.limitations) or '-'}"]


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so the accounting sees the whole suite
def pytest_collection_modifyitems(session, config, items):
    lesson = config.stash[LESSON_KEY]
    problems = []
    tested = set()
    kept = []
    for item in items:
        marks = list(item.iter_markers("feature"))
        if len(marks) != 1:
            problems.append(f"{item.nodeid}: has {len(marks)} feature markers, needs exactly one")
            continue
        args = marks[0].args
        if len(args) != 1 or args[0] not in lesson.vocabulary:
            shown = ", ".join(map(repr, args))
            problems.append(f"{item.nodeid}: feature({shown}) is not a name in tools/features.toml")
            continue
        feature = args[0]
        tested.add(feature)
        action, reason = lesson.decide(feature)
        if action == "absent":
            continue  # a feature of later lessons: not part of this lesson's run at all
        kept.append(item)
        if action == "xfail":
            # raises=AssertionError: a limitation is "the server does not do this yet", which the
            # tests report by assertions. A crash or a server that never starts is not excused.
            item.add_marker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
        elif action == "skip":
            item.add_marker(pytest.mark.skip(reason=reason))

    # A declared feature without tests would pass vacuously. Only checkable when the whole suite was
    # collected (someone running a single test file is not asking for the accounting).
    suite_files = {os.path.join(SUITE_DIR, f) for f in os.listdir(SUITE_DIR)
                   if f.startswith("test_") and f.endswith(".py")}
    collected_files = {str(item.path) for item in items}
    if suite_files <= collected_files:
        for feature in sorted(lesson.declared() - tested):
            problems.append(f"{lesson.name} declares feature {feature!r}, but no test in the suite checks it")
    if problems:
        raise pytest.UsageError("client suite feature accounting failed:\n  " + "\n  ".join(problems))
    # Left out, not skipped: a lesson's run (and the counts its text quotes) is about its own
    # features, and stays the same when later lessons add tests for theirs.
    items[:] = kept


@pytest.fixture(scope="session")
def lesson(pytestconfig):
    return pytestconfig.stash[LESSON_KEY]


@pytest.fixture(scope="session")
def server_exe(pytestconfig):
    """Path of the server executable; tests that run it directly (usage) use this."""
    return pytestconfig.stash[EXE_KEY]


@pytest.fixture
def start_server(server_exe, lesson, tmp_path):
    """A factory: start_server(nofile=None, args=()) starts a server and returns it once it is ready.

    Every server it started is stopped after the test. Each must still be running then, unless the
    test ended it on purpose (ServerProcess.terminate), and a sanitizer build must have reported
    nothing: a test that crashed a server fails (also when the test was an expected failure), with
    the server's output.
    """
    servers = []

    def start(nofile=None, args=()):
        workdir = tmp_path / f"server{len(servers)}"
        workdir.mkdir()
        # The lesson's own arguments first (e.g. --threads 2, so that lessons 13 on are tested with
        # their sub-Reactors), then the test's, which win where both name the same flag.
        proc = ServerProcess(server_exe, workdir, args=[*lesson.server_args, *args], nofile=nofile)
        proc.start()  # a server that does not start has been stopped, and raises ServerStartError
        servers.append(proc)
        return proc

    try:
        yield start
        survived = [proc.is_running() for proc in servers]  # looked at before we stop them ourselves
    finally:
        for proc in servers:
            proc.stop()  # always, so no server outlives its test
    for proc, alive in zip(servers, survived):
        if not alive and not proc.exit_requested:
            proc.assert_alive("during the test")  # raises ServerDied with the exit status and output
        proc.assert_no_sanitizer_report()


@pytest.fixture
def server(start_server):
    """A freshly started server on 127.0.0.1 and a kernel-chosen port, stopped after the test."""
    return start_server()


@pytest.fixture
def rng(request):
    """A seeded random.Random; rng.seed_value goes into failure messages so a failure reproduces.

    The seed is fixed per test (derived from its name); CLIENT_SUITE_SEED=N overrides it to explore.
    """
    seed = int(os.environ.get("CLIENT_SUITE_SEED", zlib.crc32(request.node.name.encode())))
    r = random.Random(seed)
    r.seed_value = seed
    return r
