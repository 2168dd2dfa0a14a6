"""Prints one table per build from ctest's JUnit reports: lesson, build, unit tests, client suite.

Usage: ctest_summary.py VARIANT:BUILD_DIR...   (each BUILD_DIR holds ctest-results.xml and
build-status.txt, as tools/run-tests leaves them). Ends with one line 'N passed, N failed' over all
builds, and exits 1 if anything failed.
"""

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PYTEST_TOTALS = re.compile(r"^=*\s*(\d+ (passed|failed|xfailed|skipped|error|errors|xpassed).*?) in [\d.]+s", re.M)


def pytest_totals(output: str) -> str:
    """The counts from pytest's closing line, e.g. '18 passed, 2 xfailed'."""
    found = PYTEST_TOTALS.findall(output or "")
    return found[-1][0] if found else ""


def read_results(build_dir: Path) -> dict[str, tuple[bool, str]]:
    results = {}
    report = build_dir / "ctest-results.xml"
    if not report.exists():
        return results
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.get("status") not in (None, "run") or case.find("failure") is not None
        output = case.findtext("system-out") or ""
        results[case.get("name")] = (not failed, output)
    return results


def main(argv: list[str]) -> int:
    passed = failed = 0
    for spec in argv:
        variant, _, directory = spec.partition(":")
        build_dir = Path(directory)
        results = read_results(build_dir)
        builds = {}
        status_file = build_dir / "build-status.txt"
        if status_file.exists():
            for line in status_file.read_text().split("\n"):
                if line.strip():
                    lesson, state = line.split()
                    builds[lesson] = state
        print(f"\n{variant} build:")
        print(f"  {'lesson':<20} {'build':<7} {'unit tests':<11} client suite")
        for lesson, build_state in builds.items():
            cells = [build_state]
            for kind in ("unit", "suite"):
                ok_output = results.get(f"{lesson}.{kind}")
                if ok_output is None:
                    cells.append("not run")
                    failed += 1
                    continue
                ok, output = ok_output
                passed += ok
                failed += not ok
                detail = pytest_totals(output) if kind == "suite" else ""
                cells.append(("ok" if ok else "FAILED") + (f" ({detail})" if detail else ""))
            print(f"  {lesson:<20} {cells[0]:<7} {cells[1]:<11} {cells[2]}")
        for name, (ok, _) in sorted(results.items()):
            if name.startswith("tools."):
                passed += ok
                failed += not ok
                print(f"  {name:<20} {'ok' if ok else 'FAILED'}")
    print(f"\nsummary: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
