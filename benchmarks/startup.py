"""Start-up benchmark: `zoo --help` against `python -c pass`, each in a new process."""

import argparse
import json
import subprocess
import sys
import time


def _best_seconds(command, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def run(repeats=5):
    python = _best_seconds([sys.executable, "-c", "pass"], repeats)
    # The same entry point as the `zoo` console script.
    zoo_help = _best_seconds([sys.executable, "-c", "from zoo.cli import main; main()", "--help"], repeats)
    return {
        "python_seconds": python,
        "zoo_help_seconds": zoo_help,
        "zoo_help_over_python": zoo_help / python,
        "repeats": repeats,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args(argv)
    report = run(arguments.repeats)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
