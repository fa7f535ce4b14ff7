"""Start-up benchmark: `zoo --help` against `python -c pass`, each in a new process."""

import argparse
import json
import subprocess
import sys
import time


def _seconds(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def run(repeats=5):
    python_command = [sys.executable, "-c", "pass"]
    # The same entry point as the `zoo` console script.
    zoo_command = [sys.executable, "-c", "from zoo.cli import main; main()", "--help"]

    # Interleave the two commands so both see the same machine load, and
    # keep the best of each: load only ever adds to a start-up time.
    python_seconds, zoo_seconds = [], []
    for _ in range(repeats):
        python_seconds.append(_seconds(python_command))
        zoo_seconds.append(_seconds(zoo_command))
    python, zoo_help = min(python_seconds), min(zoo_seconds)

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
