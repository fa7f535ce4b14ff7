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

import click

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


def _training(steps, backends):
    per_backend = {}
    for backend in backends:
        click.echo(f"training benchmark under {backend} ...", err=True)
        per_backend[backend] = _run_script("benchmarks.training", ["--steps", str(steps)], backend)

    # The fastest backend per model, by our own step time.
    fastest = {}
    for backend, report in per_backend.items():
        for row in report.get("results", []):
            if "zoo_ms_per_step" not in row:
                continue
            best = fastest.get(row["model"])
            if best is None or row["zoo_ms_per_step"] < best[1]:
                fastest[row["model"]] = (backend, row["zoo_ms_per_step"])
    return {"backends": per_backend, "fastest_backend": {m: b for m, (b, _) in fastest.items()}}


def _installed_backends():
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


@click.command("bench")
@click.argument("kind", type=click.Choice([*KINDS, "all"]), default="all")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="bench-report.json",
              show_default=True, help="JSON report to write.")
@click.option("--steps", type=int, default=20, show_default=True, help="Training steps per timed epoch.")
@click.option("--rows", type=int, default=100_000, show_default=True,
              help="Gallery rows of the search benchmark (up to 1,000,000).")
@click.option("--backends", default=None,
              help="Comma-separated backends for the training benchmark. Default: every installed one.")
@click.option("--results-md", type=click.Path(dir_okay=False), default=None,
              help="Also write the tables as Markdown, for example benchmarks/RESULTS.md.")
def bench_command(kind, out_path, steps, rows, backends, results_md):
    """Benchmark KIND (training, inference, search, startup or all) and write a JSON report.

    Every figure is a ratio measured side by side in the same run: the zoo's
    training step against a hand-written one, onnxruntime against Keras, FAISS
    against NumPy, `zoo --help` against `python -c pass`.
    """
    kinds = KINDS if kind == "all" else (kind,)
    backends = backends.split(",") if backends else _installed_backends()
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "command": "zoo bench " + " ".join(sys.argv[2:]),
    }
    if "training" in kinds:
        report["training"] = _training(steps, backends)
    if "inference" in kinds:
        click.echo("inference benchmark ...", err=True)
        report["inference"] = _run_script("benchmarks.inference", [])
    if "search" in kinds:
        click.echo(f"search benchmark over {rows} rows ...", err=True)
        report["search"] = _run_script("benchmarks.search", ["--rows", str(rows)])
    if "startup" in kinds:
        report["startup"] = _run_script("benchmarks.startup", [])

    pathlib.Path(out_path).write_text(json.dumps(report, indent=2))
    sys.path.insert(0, str(_repo_root()))
    from benchmarks.results import to_markdown

    markdown = to_markdown(report)
    click.echo(markdown)
    if results_md is not None:
        pathlib.Path(results_md).write_text(markdown)
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
