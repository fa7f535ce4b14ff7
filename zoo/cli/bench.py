"""`zoo bench`: speed ratios of training, inference, gallery search and start-up.

Runs the scripts in the `benchmarks/` folder of a source checkout, so it
works from the repository root (they are not part of the installed package).
"""

import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import click

from zoo.cli.arguments import output_file, write_file

KINDS = ("training", "inference", "search", "startup")
BACKENDS = ("tensorflow", "jax", "torch")


def _repo_root():
    root = pathlib.Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "training.py").is_file():
        raise click.ClickException(
            f"The benchmarks folder was not found beside the zoo package ({root}). "
            "Run `zoo bench` from a source checkout of beyond-zoo."
        )
    return root


def _run_script(module, arguments, backend=None):
    """Run `python -m module arguments --out FILE` in the repository root; return the JSON."""
    root = _repo_root()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(root))
    if backend is not None:
        environment["KERAS_BACKEND"] = backend
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "report.json"
        completed = subprocess.run(
            [sys.executable, "-m", module, *arguments, "--out", str(out)],
            cwd=root, env=environment, capture_output=True, text=True,
        )
        if completed.returncode != 0:
            return {"failed": f"{module} under {backend or 'the default backend'} exited with "
                              f"status {completed.returncode}: {completed.stderr[-1500:]}"}
        return json.loads(out.read_text())


# Rough seconds for the estimate printed before a run, from a run of
# `zoo bench all` on a quiet 2-CPU x86_64 machine (AMD EPYC, 8.4 minutes in
# all). A loaded machine is slower.
ESTIMATED_STEP_SECONDS = {"tensorflow": 0.08, "jax": 0.13, "torch": 0.12}  # The 4 models together, one side.
ESTIMATED_SETUP_SECONDS = {"tensorflow": 20, "jax": 60, "torch": 15}  # Imports and step compilation.
ESTIMATED_INFERENCE_SETUP_SECONDS = 10
ESTIMATED_INFERENCE_SECONDS_PER_ROUND = 3
ESTIMATED_SEARCH_SECONDS_PER_MILLION_ROWS = {"exact": 3, "hnsw_build": 265, "ivf_build": 3}
ESTIMATED_STARTUP_SECONDS = 5
WARMUP_EPOCHS = 2  # The same as benchmarks.training.WARMUP_EPOCHS.
SEARCH_ROUNDS = 3  # The default --rounds of benchmarks.search.


def _estimate_seconds(kind, steps, rounds, rows, backend=None):
    """Return a rough estimate of the seconds one benchmark stage takes."""
    if kind == "training":
        epochs = 2 * (WARMUP_EPOCHS + rounds)
        return ESTIMATED_SETUP_SECONDS.get(backend, 60) + epochs * steps * ESTIMATED_STEP_SECONDS.get(backend, 3.0)
    if kind == "inference":
        return ESTIMATED_INFERENCE_SETUP_SECONDS + rounds * ESTIMATED_INFERENCE_SECONDS_PER_ROUND
    if kind == "search":
        per_million = ESTIMATED_SEARCH_SECONDS_PER_MILLION_ROWS
        # NumPy and FAISS flat in each of the search benchmark's own 3
        # rounds, one exact pass for the tuning queries, then both index builds.
        searches = 2 * SEARCH_ROUNDS + 1
        return rows / 1e6 * (searches * per_million["exact"] + per_million["hnsw_build"] + per_million["ivf_build"])
    return ESTIMATED_STARTUP_SECONDS


def _stages(kinds, backends):
    stages = []
    for kind in kinds:
        if kind == "training":
            stages += [("training", backend) for backend in backends]
        else:
            stages.append((kind, None))
    return stages


def _format_duration(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _stage_arguments(kind, steps, rounds, rows):
    if kind == "training":
        return "benchmarks.training", ["--steps", str(steps), "--rounds", str(rounds)]
    if kind == "inference":
        return "benchmarks.inference", ["--rounds", str(rounds)]
    if kind == "search":
        return "benchmarks.search", ["--rows", str(rows)]
    return "benchmarks.startup", []


def _fastest_backends(per_backend):
    """Return the backend with the smallest zoo step time for each model."""
    fastest = {}
    for backend, report in per_backend.items():
        for row in report.get("results", []):
            if "zoo_ms_per_step" not in row:
                continue
            best = fastest.get(row["model"])
            if best is None or row["zoo_ms_per_step"] < best[1]:
                fastest[row["model"]] = (backend, row["zoo_ms_per_step"])
    return {model: backend for model, (backend, _) in fastest.items()}


def _run_stages(kinds, backends, steps, rounds, rows):
    """Run every stage in its own process, printing an estimate first and progress after each stage."""
    stages = _stages(kinds, backends)
    estimates = [_estimate_seconds(kind, steps, rounds, rows, backend) for kind, backend in stages]
    click.echo(f"Running {len(stages)} benchmark stages; rough estimate {_format_duration(sum(estimates))} "
               "on 2 CPU cores (more on a loaded machine).", err=True)

    report = {}
    training = {}
    started = time.perf_counter()
    for number, ((kind, backend), estimate) in enumerate(zip(stages, estimates), start=1):
        label = f"{kind} under {backend}" if backend else kind
        click.echo(f"[{number}/{len(stages)}] {label} (estimate {_format_duration(estimate)}) ...", err=True)
        stage_started = time.perf_counter()
        module, arguments = _stage_arguments(kind, steps, rounds, rows)
        result = _run_script(module, arguments, backend)
        if kind == "training":
            training[backend] = result
        else:
            report[kind] = result

        status = "failed" if "failed" in result else "done"
        click.echo(f"[{number}/{len(stages)}] {label} {status} in "
                   f"{_format_duration(time.perf_counter() - stage_started)}, "
                   f"{_format_duration(time.perf_counter() - started)} in total.", err=True)
    if training:
        report["training"] = {"backends": training, "fastest_backend": _fastest_backends(training)}
    return report


def _installed_backends():
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


@click.command("bench")
@click.argument("kind", type=click.Choice([*KINDS, "all"]), default="all")
@click.option("--out", "out_path", default="bench-report.json", show_default=True,
              callback=output_file((".json",)), help="JSON report to write.")
@click.option("--steps", type=click.IntRange(min=2), default=20, show_default=True,
              help="Training steps per timed epoch; the first step of each epoch is not timed.")
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True,
              help="Interleaved timing rounds of the training and inference benchmarks.")
@click.option("--rows", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Gallery rows of the search benchmark (128 float32 each: 512 MB per million rows).")
@click.option("--backends", default=None,
              help="Comma-separated backends for the training benchmark. Default: every installed one.")
@click.option("--results-md", default=None, callback=output_file((".md",)),
              help="Also write the tables as Markdown, for example benchmarks/RESULTS.md.")
def bench_command(kind, out_path, steps, rounds, rows, backends, results_md):
    """Benchmark KIND (training, inference, search, startup or all) and write a JSON report.

    Every figure is a ratio measured side by side in the same run: the zoo's
    training step against a hand-written one, onnxruntime against Keras, FAISS
    against NumPy, `zoo --help` against `python -c pass`.
    """
    kinds = KINDS if kind == "all" else (kind,)
    backends = backends.split(",") if backends else _installed_backends()
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise click.BadParameter(f"expected backends from {', '.join(BACKENDS)}. Received: {', '.join(unknown)}",
                                 param_hint="--backends")

    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "command": "zoo bench " + " ".join(sys.argv[2:]),
    }
    report.update(_run_stages(kinds, backends, steps, rounds, rows))

    # The outputs were checked before the stages ran, so a long run does not end in a write error.
    write_file(json.dumps(report, indent=2).encode("utf-8"), out_path)
    sys.path.insert(0, str(_repo_root()))
    from benchmarks.results import to_markdown

    markdown = to_markdown(report)
    click.echo(markdown)
    if results_md is not None:
        write_file(markdown.encode("utf-8"), results_md, option="--results-md")
        click.echo(f"Wrote {results_md}", err=True)
    click.echo(f"Wrote {out_path}", err=True)


@click.command("evaluate-megaface")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--distractors", default="generated", show_default=True,
              help="A folder of face images (searched recursively), or 'generated' for augmented "
                   "ORL training faces.")
@click.option("--max-distractors", type=int, default=100_000, show_default=True,
              help="The largest distractor count; rank-1 is reported at 10, 100, ... up to it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated distractors.")
def megaface_command(run_dir, distractors, max_distractors, seed):
    """Rank-1 of a triplet-faces run as distractors grow; writes megaface.json and a PNG."""
    from recipes.megaface import evaluate_megaface
    from zoo.errors import ZooError

    try:
        report = evaluate_megaface(run_dir, distractors, max_distractors, seed)
    except (ZooError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Distractors: {report['distractors']}")
    for count, rank_1 in zip(report["counts"], report["rank_1"]):
        click.echo(f"{count:>9} distractors: rank-1 {rank_1:.3f}")
