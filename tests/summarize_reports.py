"""Add up the JUnit XML reports of the per-backend pytest runs.

Prints one closing line, `N passed, N failed, N skipped`, and exits with
status 1 when a test failed or errored, or when a report is missing.
"""

import sys
import xml.etree.ElementTree as ElementTree


def main(paths):
    passed = failed = skipped = 0
    missing = []
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError) as error:
            missing.append(f"{path} ({error})")
            continue
        for suite in root.iter("testsuite"):
            total = int(suite.get("tests", 0))
            suite_failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            suite_skipped = int(suite.get("skipped", 0))
            print(f"{path}: {total - suite_failed - suite_skipped} passed, {suite_failed} failed, {suite_skipped} skipped")
            passed += total - suite_failed - suite_skipped
            failed += suite_failed
            skipped += suite_skipped

    for report in missing:
        print(f"missing or unreadable report: {report}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or missing or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
