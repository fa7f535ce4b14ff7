"""`export_run`: export every part of a run folder, with parity checks.

The conversion always runs in a subprocess under the TensorFlow backend,
whatever backend the run was trained under: it loads `model.keras`, traces
each part as a `tf.function` with named inputs and converts that. The
`model.export` route of Keras 3.15 fails in several backend-specific ways
(ONNX under JAX needs a model that was called outside `predict`, SavedModel
under torch trips on its `dynamic_shapes` structure). The exporting process
computes the reference outputs under its own backend, so a passing parity
check also shows that the backends agree.
"""

import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import keras
import numpy as np

from export import onnx as onnx_export
from export import parity
from export.metric_change import record_metric_changes
from export.runs import load_parts, read_run_folder, select_parts
from zoo.errors import InvalidConfigError

FORMATS = ("onnx", "savedmodel", "tflite")
QUANTIZATIONS = ("int8", "float16")
QUANTIZABLE_FORMATS = ("onnx", "tflite")
REPORT_FILE = "export_report.json"
WORKER_TIMEOUT_S = 600

_SUFFIXES = {"onnx": ".onnx", "savedmodel": ".savedmodel", "tflite": ".tflite"}


def export_run(
    run_dir,
    format="onnx",
    parts=None,
    out_dir=None,
    overwrite=False,
    quantize=None,
    import_modules=(),
    opset=onnx_export.OPSET,
    score_artifact=None,
):
    """Export the parts of a trained run and check them against Keras.

    Each part is written as `<part>.onnx`, `<part>.savedmodel/` or
    `<part>.tflite`. With `quantize`, a quantized copy
    `<part>.<quantize>.onnx` or `<part>.<quantize>.tflite` is written next
    to the float32 file. Float32 artifacts must match the Keras outputs
    within `parity.FLOAT32_TOLERANCE` (absolute) on seeded probe inputs
    at batch sizes 1 and 7; for quantized copies the differences are
    recorded, not checked, and so is the change in the model's own
    metric that `score_artifact` measures. Files are built in a temporary
    folder and moved into place only when every check passes.

    Args:
        run_dir: a run folder with `model.keras` and `config.json`.
        format: `"onnx"`, `"savedmodel"` or `"tflite"`, or a list of them,
            which one TensorFlow subprocess converts together.
        parts: a part name, a list of them, or `None` for every part of
            `model.exportable_parts()`.
        out_dir: the output folder. Default: `run_dir/export`.
        overwrite: replace artifacts that already exist.
        quantize: `None`, `"int8"` or `"float16"`. ONNX uses ONNX Runtime's
            dynamic int8 quantization or a float16 conversion; TFLite uses
            dynamic-range int8 or float16 weights. SavedModel has no
            quantized form, so it is written in float32 only.
        import_modules: extra modules that register the model's custom
            classes, imported in both processes.
        opset: the ONNX opset, 17 or newer.
        score_artifact: with `quantize`, a function
            `score_artifact(part, predictors) -> dict` that computes the
            model's own metric on held-out data from the artifacts, called
            once with the float32 artifacts and once with each quantized
            copy in place of its part (contract in `export.metric_change`).
            `zoo export` passes the recipe's scorer. `None` records why no
            metric change was measured.

    Returns:
        The report dict, also merged into `out_dir/export_report.json`:
        `formats[format]["parts"][part]["artifacts"]` lists every
        artifact's path, size in bytes and parity deltas (maximum absolute
        difference per output, overall and per probe batch size). Each
        quantized artifact also has `metric_change`: the held-out data, and
        per metric the float32 value, the quantized value and their change,
        or the reason it was skipped.

    Raises:
        FileNotFoundError: `run_dir`, `model.keras` or `config.json` is missing.
        CorruptFileError: `model.keras` is truncated or not a `.keras` file.
        InvalidConfigError: an unknown format, quantization, opset or part.
        FileExistsError: an artifact exists and `overwrite` is False.
        ExportValidationError: a float32 artifact's outputs differ from Keras.
        RuntimeError: the conversion subprocess failed.
        TypeError: `score_artifact` returned a result outside its contract.
    """
    formats = _check_arguments(format, quantize, opset)
    run_dir = pathlib.Path(run_dir)
    model_path, run_config = read_run_folder(run_dir)
    out_dir = pathlib.Path(out_dir) if out_dir is not None else run_dir / "export"
    import_modules = list(import_modules)

    # Reference outputs under this process's backend, on the CPU like the
    # artifacts: TensorFloat-32 matmuls on a GPU differ by more than 1e-5.
    # NOTE: the CPU pinning is untested on a GPU machine.
    with keras.device("cpu"):
        _, all_parts = load_parts(model_path, import_modules)
        names = select_parts(all_parts, parts, model_path)
        _check_free(out_dir, _artifact_files(names, formats, quantize), overwrite)
        probes = {name: parity.probe_inputs(all_parts[name].model) for name in names}
        references = {
            name: {size: parity.keras_outputs(all_parts[name].model, feed) for size, feed in probes[name].items()}
            for name in names
        }
    run_metrics = _run_metrics(run_dir)
    metadata = {name: _metadata(name, all_parts[name], run_config, run_metrics) for name in names}

    created_out_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".export-", dir=out_dir) as work:
            work_dir = pathlib.Path(work)
            result = _run_worker(
                work_dir, model_path, names, formats, quantize, import_modules, metadata, probes, opset
            )

            format_reports = {}
            failures = []
            for format_name in formats:
                part_reports = {}
                for name in names:
                    part_report, part_failures = _validate_part(
                        work_dir, name, format_name, quantize, result[name], probes[name], references[name],
                        tolerance=all_parts[name].parity_tolerance or parity.FLOAT32_TOLERANCE,
                    )
                    part_reports[name] = part_report
                    failures += part_failures
                format_reports[format_name] = {
                    "quantize": quantize if format_name in QUANTIZABLE_FORMATS else None,
                    "parts": part_reports,
                }
            parity.raise_on_failures(failures)
            if quantize is not None:
                record_metric_changes(format_reports, score_artifact)

            for file in _artifact_files(names, formats, quantize):
                _move_into_place(work_dir / file, out_dir / file, overwrite)
    except BaseException:
        # A failed export leaves no trace, not even the folder it created.
        if created_out_dir:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise

    report = {
        "run_dir": os.fspath(run_dir),
        "out_dir": os.fspath(out_dir),
        "reference_backend": keras_backend(),
        "trained_backend": run_config.get("backend"),
        "float32_tolerance": parity.FLOAT32_TOLERANCE,
        "probe_batch_sizes": list(parity.PROBE_BATCH_SIZES),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "formats": _relocate(format_reports, out_dir),
    }
    _write_report(out_dir, report)
    return report


def keras_backend():
    """Return the active Keras backend name."""
    return keras.backend.backend()


def _check_arguments(format, quantize, opset):
    """Validate the arguments and return the list of formats."""
    formats = list(format) if isinstance(format, (list, tuple)) else [format]
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise InvalidConfigError(
            f"Unknown export format {format!r}. Expected one of {FORMATS}, or a list of them."
        )
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise InvalidConfigError(
            f"Unknown quantization {quantize!r}. Expected one of {QUANTIZATIONS} or None."
        )
    if quantize is not None and not set(formats) & set(QUANTIZABLE_FORMATS):
        raise InvalidConfigError(
            f"quantize={quantize!r} has no SavedModel form. Use format='onnx' or 'tflite', "
            "or leave quantize unset."
        )
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < onnx_export.OPSET:
        raise InvalidConfigError(f"The ONNX opset must be an integer >= {onnx_export.OPSET}. Received: {opset!r}")
    return list(dict.fromkeys(formats))


def _format_files(name, format, quantize):
    """Return the float32 file name and, with `quantize`, the quantized file name."""
    suffix = _SUFFIXES[format]
    files = [f"{name}{suffix}"]
    if quantize is not None and format in QUANTIZABLE_FORMATS:
        files.append(f"{name}.{quantize}{suffix}")
    return files


def _artifact_files(names, formats, quantize):
    return [file for format in formats for name in names for file in _format_files(name, format, quantize)]


def _check_free(out_dir, files, overwrite):
    existing = [os.fspath(out_dir / file) for file in files if (out_dir / file).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"The export output already exists: {existing}. Expected a free path. Pass "
            "overwrite=True (--overwrite) to replace it, or choose another output folder."
        )


def _run_metrics(run_dir):
    """Return the run's `metrics.json`, or an empty dict before evaluation."""
    path = pathlib.Path(run_dir) / "metrics.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _metadata(name, part, run_config, run_metrics):
    """Collect the ONNX `metadata_props` of a part. The part's own keys override the defaults.

    An embedder also carries the distance thresholds calibrated by the
    evaluation (see `_threshold_metadata`), so a serving program can verify
    and identify without the run folder.
    """
    import zoo

    metadata = {
        "model_name": str(run_config.get("recipe") or name),
        "part": name,
        "backend": str(run_config.get("backend", "unknown")),
        "zoo_version": zoo.__version__,
        "keras_version": str(run_config.get("keras_version") or keras.__version__),
    }
    training_data = _training_data(run_config)
    if training_data is not None:
        metadata["training_data"] = training_data
    if part.task == "embedder":
        metadata.update(_threshold_metadata(run_metrics))
    metadata.update(part.metadata)
    metadata["zoo_task"] = part.task
    return metadata


def _threshold_metadata(run_metrics):
    """Return an embedder's calibrated distance thresholds from `metrics.json` as metadata strings.

    `threshold_far_*` (top level of `metrics.json`) are 1:1 verification
    thresholds at a false accept rate. `threshold_fpir_*` (under `open_set`)
    are open-set identification thresholds at a false positive
    identification rate, fitted on galleries of `gallery_identities` people
    on average, which is stored as `open_set_gallery_identities`. A threshold
    that the evaluation could not fit is null in `metrics.json` and is left out.
    """
    metadata = {}
    for key, value in run_metrics.items():
        if key.startswith("threshold_far_") and _is_finite_number(value):
            metadata[key] = repr(float(value))

    open_set = run_metrics.get("open_set")
    if not isinstance(open_set, dict):
        return metadata
    for key, value in open_set.items():
        if key.startswith("threshold_fpir_") and _is_finite_number(value):
            metadata[key] = repr(float(value))
    has_open_set_threshold = any(key.startswith("threshold_fpir_") for key in metadata)
    identities = open_set.get("gallery_identities")
    if has_open_set_threshold and _is_finite_number(identities):
        metadata["open_set_gallery_identities"] = repr(float(identities))
    return metadata


def _is_finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _training_data(run_config):
    """Return the `training_data` metadata: the data set's name, or its description as JSON.

    File locations are cut to their last component ("att_faces", not
    "/home/user/data/att_faces"), because the metadata ships with the model
    and the exporter's folder layout means nothing to its users.
    """
    data = run_config.get("training_data", run_config.get("data"))
    if data is None:
        return None
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return data["name"]
    if isinstance(data, str):
        return _without_folders(data, "source")
    return json.dumps(_without_folders(data), sort_keys=True, separators=(",", ":"))


# Keys of a run's data description whose values are file or folder locations.
_LOCATION_KEYS = frozenset({"source", "path", "file", "root", "data_dir", "directory"})


def _without_folders(value, key=None):
    """Return `value` with each file location replaced by its last path component."""
    if isinstance(value, dict):
        return {name: _without_folders(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_without_folders(item, key) for item in value]
    if not isinstance(value, str):
        return value
    is_absolute = (
        pathlib.PurePosixPath(value).is_absolute()
        or pathlib.PureWindowsPath(value).is_absolute()
        or value.startswith("~")
    )
    if is_absolute or key in _LOCATION_KEYS and ("/" in value or "\\" in value):
        return pathlib.PureWindowsPath(value).name if "\\" in value else pathlib.PurePosixPath(value).name
    return value


def _run_worker(work_dir, model_path, names, formats, quantize, import_modules, metadata, probes, opset):
    """Run `export._worker` under the TensorFlow backend and return its result dict."""
    probes_path = work_dir / "probes.npz"
    np.savez(
        probes_path,
        **{
            f"{name}/{size}/{input_name}": array
            for name in names
            for size, feed in probes[name].items()
            for input_name, array in feed.items()
        },
    )
    request = {
        "model_path": os.fspath(model_path.resolve()),
        "parts": names,
        "formats": formats,
        "quantize": quantize,
        "work_dir": os.fspath(work_dir),
        "import_modules": import_modules,
        "metadata": metadata,
        "probes_path": os.fspath(probes_path),
        "opset": opset,
    }
    request_path = work_dir / "request.json"
    request_path.write_text(json.dumps(request))

    environment = dict(os.environ)
    environment["KERAS_BACKEND"] = "tensorflow"
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The worker converts on the CPU, so that it neither competes with this
    # process for GPU memory nor runs TensorFloat-32 kernels.
    environment["CUDA_VISIBLE_DEVICES"] = ""
    # The worker must import whatever this process can (the zoo, and the
    # modules named in `import_modules`).
    package_root = os.fspath(pathlib.Path(__file__).resolve().parents[1])
    paths = [package_root] + [path for path in sys.path if path]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))

    try:
        completed = subprocess.run(
            [sys.executable, "-m", "export._worker", os.fspath(request_path)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(
            f"The TensorFlow conversion subprocess timed out after {WORKER_TIMEOUT_S} s while "
            f"exporting {names} of {model_path} to {formats}."
        ) from error
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-25:])
        raise RuntimeError(
            f"The TensorFlow conversion subprocess failed with exit status {completed.returncode} "
            f"while exporting {names} of {model_path} to {formats}. Its last messages:\n{tail}"
        )
    return json.loads((work_dir / "result.json").read_text())


def _validate_part(work_dir, name, format, quantize, result, probes, references, tolerance=parity.FLOAT32_TOLERANCE):
    """Check one part's float32 artifacts of one format against the Keras outputs within `tolerance`.

    Returns:
        `(report, failures)` for the part.
    """
    expected_inputs = list(next(iter(probes.values())))
    expected_outputs = list(next(iter(references.values())))
    failures = []
    if result["inputs"] != expected_inputs or result["outputs"] != expected_outputs:
        raise RuntimeError(
            f"Part '{name}' has the inputs {result['inputs']} and outputs {result['outputs']} "
            f"under TensorFlow but {expected_inputs} and {expected_outputs} under "
            f"{keras_backend()}. The part's layer names must not depend on the backend."
        )

    artifacts = list(result["artifacts"][format])
    if format == "onnx" and quantize is not None:
        source = work_dir / artifacts[0]["file"]
        target = work_dir / _format_files(name, format, quantize)[1]
        onnx_export.quantize(source, target, quantize)
        artifacts.append({"file": target.name, "quantize": quantize})

    entries = []
    float32_size = None
    for artifact in artifacts:
        path = work_dir / artifact["file"]
        artifact_tolerance = tolerance if artifact["quantize"] is None else None
        per_batch = {}
        for size, feed in probes.items():
            outputs = _artifact_outputs(work_dir, path, format, size, feed)
            deltas, batch_failures = parity.compare_outputs(
                references[size], outputs, artifact["file"], name, size, artifact_tolerance
            )
            per_batch[size] = deltas
            failures += batch_failures

        entry = {
            "path": path,
            "quantize": artifact["quantize"],
            "size_bytes": _size(path),
            "parity": {"tolerance": artifact_tolerance, **parity.merge_deltas(per_batch)},
        }
        if artifact["quantize"] is None:
            float32_size = entry["size_bytes"]
        elif float32_size:
            entry["size_ratio_to_float32"] = entry["size_bytes"] / float32_size
        if "signature" in artifact:
            entry["signature"] = artifact["signature"]
        entries.append(entry)

    return {"inputs": result["inputs"], "outputs": result["outputs"], "artifacts": entries}, failures


def _artifact_outputs(work_dir, path, format, batch_size, feed):
    if format == "onnx":
        return onnx_export.run(path, feed)
    saved = np.load(work_dir / f"{path.name}.outputs.npz")
    prefix = f"{batch_size}/"
    return {key[len(prefix):]: saved[key] for key in saved.files if key.startswith(prefix)}


def _size(path):
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size


def _move_into_place(source, target, overwrite):
    """Move a file or folder onto `target`, removing an old target only after the move succeeds."""
    if not target.exists():
        os.replace(source, target)
        return
    if not overwrite:
        raise FileExistsError(f"{target} appeared during the export. Pass overwrite=True to replace it.")
    if source.is_dir() or target.is_dir():
        backup = target.with_name(f".{target.name}.old")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(backup) if backup.is_dir() else backup.unlink()
        os.replace(target, backup)
        os.replace(source, target)
        shutil.rmtree(backup) if backup.is_dir() else backup.unlink()
    else:
        os.replace(source, target)


def _relocate(format_reports, out_dir):
    """Point artifact paths at their final place in `out_dir`."""
    for format_report in format_reports.values():
        for part in format_report["parts"].values():
            for entry in part["artifacts"]:
                entry["path"] = os.fspath(out_dir / pathlib.Path(entry["path"]).name)
    return format_reports


def _write_report(out_dir, report):
    """Merge `report` into `export_report.json`, keeping other formats' entries, atomically."""
    path = out_dir / REPORT_FILE
    formats = {}
    if path.is_file():
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            previous = json.loads(path.read_text())
            if isinstance(previous, dict) and isinstance(previous.get("formats"), dict):
                formats = previous["formats"]
    merged = {**report, "formats": {**formats, **report["formats"]}}

    handle, temporary = tempfile.mkstemp(prefix=f".{REPORT_FILE}.", dir=out_dir)
    with os.fdopen(handle, "w") as file:
        json.dump(merged, file, indent=2, default=_json_default)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _json_default(value):
    if isinstance(value, pathlib.Path):
        return os.fspath(value)
    raise TypeError(f"Cannot write {type(value).__name__} to the export report.")


def _versions():
    versions = {}
    for package in ("keras", "tensorflow", "tf2onnx", "onnx", "onnxruntime", "onnxruntime-gpu"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return versions
