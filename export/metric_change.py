"""The change in a model's own metric between a float32 artifact and its quantized copy.

Parity deltas show how far the outputs of a quantized copy move, but not
what that costs. `export_run` therefore takes a scorer from the caller and
runs it twice per quantized artifact: once with the float32 artifacts of
every exported part, and once with the quantized copy in place of its own
part. This module imports no recipe and loads no data set, because the
scorer chooses the held-out data and the metric.

Scorer contract: `score_artifact(part, predictors) -> dict`, where `part`
is the part whose quantized copy is assessed and `predictors` maps every
exported part name to a function `feed -> outputs` (dicts from input or
output name to NumPy array) that runs an artifact on the CPU. It returns
`{"data": str, "metrics": {name: float}}`, where `data` names the held-out
data and its size, or `{"skipped": reason}` when the metric cannot be
computed.
"""

import os
import time

import numpy as np

# The report key of a quantized artifact's metric change.
REPORT_KEY = "metric_change"


def record_metric_changes(format_reports, score_artifact):
    """Add `metric_change` to every quantized artifact entry of an export report.

    Args:
        format_reports: `{format: {"quantize": ..., "parts": {part: {"artifacts": [...]}}}}`
            as built by `export_run`, with artifact paths that still exist.
            The float32 artifact of each part comes first.
        score_artifact: the scorer described in the module docstring, or
            `None`, which records why no metric change was measured.

    Raises:
        TypeError: the scorer returned something other than the dict the
            contract describes.
    """
    for format_name, format_report in format_reports.items():
        if format_report["quantize"] is None:
            continue
        parts = format_report["parts"]
        float32 = {name: artifact_predictor(part["artifacts"][0]["path"], format_name) for name, part in parts.items()}
        for name, part in parts.items():
            for entry in part["artifacts"][1:]:
                if score_artifact is None:
                    entry[REPORT_KEY] = {
                        "skipped": "no scorer was given; `zoo export --quantize` passes the recipe's scorer"
                    }
                    continue
                quantized = {**float32, name: artifact_predictor(entry["path"], format_name)}
                entry[REPORT_KEY] = metric_change(score_artifact, name, float32, quantized)


def metric_change(score_artifact, part, float32, quantized):
    """Score one part with float32 and with quantized predictors and compare the results.

    Returns:
        `{"data", "metrics": {name: {"float32", "quantized", "change"}}, "seconds"}`,
        where `change` is the quantized value minus the float32 value and
        `seconds` the time of both scorings, including any data loading the
        scorer does on its first call. Or `{"skipped": reason}`.
    """
    start = time.perf_counter()
    reference = _checked(score_artifact(part, float32), part)
    if "skipped" in reference:
        return {"skipped": reference["skipped"]}

    candidate = _checked(score_artifact(part, quantized), part)
    if "skipped" in candidate:
        return {"skipped": candidate["skipped"]}

    metrics = {}
    for key, value in reference["metrics"].items():
        quantized_value = candidate["metrics"][key]
        metrics[key] = {"float32": value, "quantized": quantized_value, "change": quantized_value - value}
    return {"data": reference["data"], "metrics": metrics, "seconds": round(time.perf_counter() - start, 2)}


def artifact_predictor(path, format):
    """Return a function `feed -> outputs` that runs one artifact on the CPU.

    The ONNX Runtime session or TFLite interpreter is created once, on the
    first call, and reused for later batches.

    Args:
        path: the `.onnx` or `.tflite` file.
        format: `"onnx"` or `"tflite"`.

    Raises:
        ValueError: `format` has no quantized form.
    """
    if format not in ("onnx", "tflite"):
        raise ValueError(f"Only ONNX and TFLite artifacts have quantized copies. Received the format {format!r}.")
    path = os.fspath(path)
    runners = []

    def predict(feed):
        if not runners:
            runners.append(_onnx_runner(path) if format == "onnx" else _tflite_runner(path))
        return runners[0]({name: np.asarray(value, "float32") for name, value in feed.items()})

    return predict


def _onnx_runner(path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return lambda feed: dict(zip(names, session.run(names, feed)))


def _tflite_runner(path):
    # NOTE: this imports TensorFlow into the exporting process, whatever its
    # Keras backend. The interpreter runs on the CPU, with TFLite's default XNNPACK delegate.
    import tensorflow as tf

    from export.savedmodel import SIGNATURE_KEY

    runner = tf.lite.Interpreter(model_path=path).get_signature_runner(SIGNATURE_KEY)
    return lambda feed: {name: np.asarray(value) for name, value in runner(**feed).items()}


def _checked(result, part):
    """Return the scorer's result after checking it against the contract."""
    if isinstance(result, dict) and isinstance(result.get("skipped"), str):
        return result
    valid = (
        isinstance(result, dict)
        and isinstance(result.get("data"), str)
        and isinstance(result.get("metrics"), dict)
        and bool(result["metrics"])
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in result["metrics"].values())
    )
    if not valid:
        raise TypeError(
            f"The artifact scorer returned {result!r} for part '{part}'. Expected "
            '{"data": str, "metrics": {name: float}} or {"skipped": reason}.'
        )
    return {"data": result["data"], "metrics": {key: float(value) for key, value in result["metrics"].items()}}
