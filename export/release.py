"""Release a trained run as a named artifact of `artifacts/manifest.json`.

A release exports parts of a run to ONNX, with the usual parity check, and
copies them to `artifacts/NAME/PART.onnx` beside a copy of the run's
`metrics.json`. It then writes the model card `model_cards/NAME.md` and
adds or replaces the manifest entry with each file's size and SHA-256.
The first part is the primary one: `zoo pull NAME` returns its path.
With `quantize`, each part's quantized copy `PART.<quantize>.onnx` is
released too. Its file entry follows the float32 files and carries the
change in the model's own metric that the export measured. Every file
entry has `quantize`: `None` for float32, which `zoo pull` fetches by
default, else the quantization. Copies of a released part that an earlier
release left behind, such as `PART.int8.onnx` after a release without
`quantize`, are removed once the new files and manifest are written.
"""

import hashlib
import json
import logging
import pathlib
import shutil
import tempfile

from zoo import io

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
DEFAULT_LICENSE = "apache-2.0"

# The metrics copied into the manifest entry, per task, when present.
HEADLINE_METRICS = {
    "embedder": ("rank_1", "auc", "tar_far_1e-2", "recall_at_1"),
    "encoder": ("test_mse_per_pixel", "test_elbo_nats", "test_nll_iwae_nats"),
    "decoder": ("test_mse_per_pixel", "test_elbo_nats", "test_nll_iwae_nats"),
    "autoencoder": ("test_mse_per_pixel", "test_elbo_nats", "test_nll_iwae_nats"),
    "generator": ("fid", "kid", "class_coverage"),
    "translator": ("l1", "ssim"),
    "classifier": ("test_accuracy",),
}

# The section of metrics.json that contains held-out results when a recipe
# nests them (pix2pix writes {"test": {"l1": ..., "ssim": ...}}).
HELD_OUT_SECTION = "test"


# The `part_role` metadata of a StyleGAN's mapping and synthesis parts.
STYLE_SIDE_ROLES = ("mapping", "synthesis")

# ONNX `zoo_task` -> the task vocabulary of `export.cards.write_card`.
CARD_TASKS = {"encoder": "autoencoder", "decoder": "autoencoder"}


def release_run(
    run_dir,
    name,
    parts,
    description,
    repo_root=".",
    license=DEFAULT_LICENSE,
    import_modules=(),
    quantize=None,
    score_artifact=None,
):
    """Export `parts` of `run_dir` and publish them as artifact `name`.

    Args:
        run_dir: a run folder with `model.keras`, `config.json` and
            `metrics.json`.
        name: the artifact name, for example `"face-embedder-orl"`.
        parts: the exportable parts, for example `["embedder"]` or
            `["decoder", "encoder"]`; the first one is the primary part.
        description: one line for `zoo pull --list`.
        repo_root: the checkout holding `artifacts/` and `model_cards/`.
        license: the license identifier written to the manifest and card.
        import_modules: extra modules that register custom classes.
        quantize: `None`, or `"int8"` or `"float16"` to also release the
            ONNX quantized copy of each part.
        score_artifact: the scorer that `export_run` uses to measure the
            quantized copies' metric change, for example
            `recipes.artifact_metrics.artifact_scorer(run_dir)`.

    Returns:
        The manifest entry, a dict.
    """
    from export.api import export_run
    from export.cards import write_card

    run_dir = pathlib.Path(run_dir)
    repo_root = pathlib.Path(repo_root)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(
            f"The run folder {run_dir} has no metrics.json. Run `zoo evaluate {run_dir}` before releasing it."
        )
    metrics = json.loads(metrics_path.read_text())
    artifact_dir = repo_root / "artifacts" / name

    if isinstance(parts, str):
        parts = [parts]

    # Export and check the parts in a scratch folder.
    with tempfile.TemporaryDirectory(prefix="zoo-release-") as scratch:
        report = export_run(
            run_dir, "onnx", parts=list(parts), out_dir=scratch, import_modules=import_modules,
            quantize=quantize, score_artifact=score_artifact,
        )
        artifact_dir.mkdir(parents=True, exist_ok=True)
        for part in parts:
            for file_name in _part_files(part, quantize):
                with io.atomic_path(artifact_dir / file_name) as temporary:
                    shutil.copyfile(pathlib.Path(scratch) / file_name, temporary)
    io.write_json(artifact_dir / "metrics.json", metrics)

    entry = _manifest_entry(name, parts, description, artifact_dir, metrics, report, license)
    if quantize is not None:
        entry["files"] += _quantized_files(name, parts, artifact_dir, report, quantize)

    # The card reads the run folder; its pictures go beside it.
    card_path = repo_root / "model_cards" / f"{name}.md"
    card_task = CARD_TASKS.get(entry["task"], entry["task"])
    write_card(run_dir, name, out_path=card_path, task=card_task, license=license)
    _update_manifest(repo_root / "artifacts" / "manifest.json", entry)
    _remove_stale_files(artifact_dir, parts, quantize)
    logger.info("Released %s into %s with the card %s", name, artifact_dir, card_path)
    return entry


def _part_files(part, quantize):
    """Return the file names of a part in the artifact folder, float32 first."""
    return [f"{part}.onnx"] + ([f"{part}.{quantize}.onnx"] if quantize is not None else [])


def _remove_stale_files(artifact_dir, parts, quantize):
    """Delete the quantized copies `PART.<quantization>.onnx` of `parts` that this release did not write.

    Called after the new files and the manifest are in place, so the
    manifest never lists a deleted file.
    """
    from export.onnx import QUANTIZATIONS

    for part in parts:
        released = set(_part_files(part, quantize))
        for quantization in QUANTIZATIONS:
            path = artifact_dir / f"{part}.{quantization}.onnx"
            if path.name not in released and path.is_file():
                logger.info("Removing %s, which an earlier release of this part left behind", path)
                path.unlink()


def _quantized_files(name, parts, artifact_dir, report, quantize):
    """Return the manifest file entries of the quantized copies, with their metric change."""
    files = []
    for part in parts:
        model_file = artifact_dir / f"{part}.{quantize}.onnx"
        quantized = report["formats"]["onnx"]["parts"][part]["artifacts"][1]
        files.append(
            {
                "path": f"{name}/{model_file.name}",
                "sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
                "size": model_file.stat().st_size,
                "quantize": quantize,
                "metric_change": quantized["metric_change"],
            }
        )
    return files


def _part_task(model):
    """Return a part's `zoo_task`, or its `part_role` for a StyleGAN mapping or synthesis part."""
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    role = metadata.get("part_role")
    return role if role in STYLE_SIDE_ROLES else metadata.get("zoo_task", "embedder")


def _manifest_entry(name, parts, description, artifact_dir, metrics, report, license):
    import onnx

    files = []
    models = {}
    for part in parts:
        model_file = artifact_dir / f"{part}.onnx"
        models[part] = onnx.load(model_file)
        files.append(
            {
                "path": f"{name}/{part}.onnx",
                "sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
                "size": model_file.stat().st_size,
                "quantize": None,
            }
        )

    primary = models[parts[0]]
    part_tasks = {part: _part_task(model) for part, model in models.items()}
    task = artifact_task(part_tasks)
    return {
        "name": name,
        "task": task,
        "parts": list(parts),
        "part_tasks": part_tasks,
        "description": description,
        "files": files,
        "inputs": [_describe(value) for value in primary.graph.input],
        "outputs": [_describe(value) for value in primary.graph.output],
        "metrics": headline_metrics(task, metrics, parts),
        "parity_max_abs_diff": _max_difference(report),
        "license": license,
        "model_card": f"model_cards/{name}.md",
        "url": "",
    }


def artifact_task(part_tasks):
    """Return an artifact's task from its parts' `zoo_task` values.

    One task is the artifact's task. An encoder with a decoder is an
    `autoencoder`, and a generator with StyleGAN mapping and synthesis parts
    a `generator`. Other mixes join the distinct tasks with `+` in part order.

    Args:
        part_tasks: part name -> `zoo_task`, or the `part_role` of a StyleGAN
            mapping or synthesis part, in part order.
    """
    tasks = list(dict.fromkeys(part_tasks.values()))
    # A StyleGAN's mapping and synthesis parts serve its generator's style
    # mixing, so the artifact is a generator.
    if "generator" in tasks:
        tasks = [task for task in tasks if task not in STYLE_SIDE_ROLES]
    if len(tasks) == 1:
        return tasks[0]
    if set(tasks) == {"encoder", "decoder"}:
        return "autoencoder"
    return "+".join(tasks)


def headline_metrics(task, metrics, parts=()):
    """Return the headline metrics of `task` found in `metrics`, in their metrics.json layout.

    A key is taken from the top level of `metrics`, else from its held-out
    `"test"` section, else from a section named after a part (the GAN
    evaluation writes `{"generator": {"fid": ...}}`). A nested key stays
    nested (`{"test": {"l1": ...}}`), so the flattened names of the
    manifest and of metrics.json agree.

    Args:
        task: the artifact's task, a key of `HEADLINE_METRICS`.
        metrics: the run's metrics.json contents.
        parts: the released part names.
    """
    headline = {}
    sections = [HELD_OUT_SECTION, *parts]
    for key in HEADLINE_METRICS.get(task, ()):
        if _is_number(metrics.get(key)):
            headline[key] = metrics[key]
            continue
        for section in sections:
            values = metrics.get(section)
            if not isinstance(values, dict):
                continue
            if _is_number(values.get(key)):
                headline.setdefault(section, {})[key] = values[key]
                break
            # A StyleGAN scores its generator at several psi: {"generator": {"psi_1.0": {"fid": ...}}}.
            nested = {name: inner[key] for name, inner in values.items() if isinstance(inner, dict) and _is_number(inner.get(key))}
            if nested:
                for name, value in nested.items():
                    headline.setdefault(section, {}).setdefault(name, {})[key] = value
                break
    return headline


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(value):
    dims = [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]
    shape = [None if dim == "batch" else dim for dim in dims]
    return {"name": value.name, "shape": shape, "dtype": "float32"}


def _max_difference(report):
    """Return the largest parity difference of the float32 artifacts in an export report."""
    differences = []

    def visit(node):
        if isinstance(node, dict) and "parity" in node and node.get("quantize") is not None:
            # Quantized copies are not held to the float32 tolerance.
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "max_abs_diff" and isinstance(value, dict):
                    differences.extend(value.values())
                else:
                    visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(report)
    return max(differences) if differences else None


def _update_manifest(path, entry):
    if path.is_file():
        manifest = json.loads(path.read_text())
    else:
        manifest = {"schema_version": MANIFEST_SCHEMA_VERSION, "artifacts": []}
    artifacts = [item for item in manifest["artifacts"] if item["name"] != entry["name"]]
    artifacts.append(entry)
    manifest["artifacts"] = sorted(artifacts, key=lambda item: item["name"])
    io.write_json(path, manifest)
