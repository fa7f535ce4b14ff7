"""The conversion subprocess: `python -m export._worker REQUEST_JSON`.

`export.api` starts it with `KERAS_BACKEND=tensorflow`, whatever backend
the run was trained under. It loads `model.keras` and traces each requested
part as a `tf.function` with named inputs and a `None` batch dimension. It
writes the artifacts into the request's temporary folder. Then it runs the
SavedModel and TFLite artifacts on the probe inputs and saves their outputs,
which the parent compares against its own Keras outputs.

Request keys: `model_path`, `parts`, `formats`, `quantize`, `work_dir`,
`import_modules`, `metadata` (per part), `probes_path`, `opset`.
The result (`work_dir/result.json`) maps each part to its artifacts per format, and
`work_dir/<artifact>.outputs.npz` holds `"<batch_size>/<output name>"` arrays.
"""

import json
import os
import pathlib
import sys


def quiet_tensorflow_logs(environment):
    """Set `TF_CPP_MIN_LOG_LEVEL=2` in `environment` unless the user set it.

    TensorFlow reads it when it is imported: 2 hides its C++ INFO and
    WARNING lines (oneDNN notices, absl warnings), which are unrelated to
    the export. `export.api` sets it for the subprocess too, and this covers
    a worker started by hand.
    """
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(request_path):
    request = json.loads(pathlib.Path(request_path).read_text())
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        raise RuntimeError(
            "export._worker must run with KERAS_BACKEND=tensorflow. "
            f"Received: {os.environ.get('KERAS_BACKEND')!r}"
        )

    quiet_tensorflow_logs(os.environ)

    import numpy as np
    import tensorflow as tf

    from export import onnx as onnx_export
    from export import savedmodel, tflite
    from export.runs import input_names, load_parts, output_names

    work_dir = pathlib.Path(request["work_dir"])
    probes = np.load(request["probes_path"])
    _, parts = load_parts(request["model_path"], request["import_modules"])
    result = {}

    for part_name in request["parts"]:
        part_model = parts[part_name].model
        inputs = input_names(part_model)
        outputs = output_names(part_model)
        signature = [
            tf.TensorSpec((None, *tensor.shape[1:]), tf.float32, name=name)
            for name, tensor in zip(inputs, part_model.inputs)
        ]
        formats = request["formats"]
        artifacts = {}

        if "onnx" in formats:
            path = work_dir / f"{part_name}.onnx"
            onnx_export.convert_part(
                _traced(part_model, signature, as_dict=False),
                signature,
                inputs,
                outputs,
                request["metadata"][part_name],
                path,
                opset=request["opset"],
            )
            artifacts["onnx"] = [{"file": path.name, "quantize": None}]

        if "savedmodel" in formats or "tflite" in formats:
            # TFLite converts from the SavedModel, so both share one trace.
            saved_path = work_dir / f"{part_name}.savedmodel"
            variables = [variable.value for variable in part_model.variables]
            savedmodel.write(_traced(part_model, signature, as_dict=True), variables, saved_path)

        if "savedmodel" in formats:
            artifacts["savedmodel"] = [
                {"file": saved_path.name, "quantize": None, "signature": savedmodel.describe(saved_path)}
            ]
            _save_outputs(work_dir, saved_path.name, probes, part_name, lambda feed: savedmodel.run(saved_path, feed))

        if "tflite" in formats:
            artifacts["tflite"] = []
            for quantize in [None] + ([request["quantize"]] if request["quantize"] else []):
                suffix = f".{quantize}" if quantize else ""
                path = work_dir / f"{part_name}{suffix}.tflite"
                tflite.write(saved_path, path, quantize)
                artifacts["tflite"].append({"file": path.name, "quantize": quantize})
                _save_outputs(
                    work_dir, path.name, probes, part_name, lambda feed, path=path: tflite.run(path, feed)
                )

        result[part_name] = {"inputs": inputs, "outputs": outputs, "artifacts": artifacts}

    (work_dir / "result.json").write_text(json.dumps(result, indent=2))


def _traced(part_model, signature, as_dict):
    """Wrap a part in a `tf.function` with a fixed, named input signature."""
    import tensorflow as tf

    from export.runs import output_names

    names = output_names(part_model)

    @tf.function(input_signature=signature)
    def serve(*inputs):
        values = part_model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
        if isinstance(values, dict):
            values = [values[name] for name in names]
        elif not isinstance(values, (list, tuple)):
            values = [values]
        if as_dict:
            return dict(zip(names, values))
        # tf2onnx numbers outputs in the order of this list.
        return list(values)

    return serve


def _save_outputs(work_dir, artifact, probes, part_name, run_artifact):
    """Run an artifact on every probe batch of a part and save the outputs."""
    import numpy as np

    prefix = f"{part_name}/"
    batches = {}
    for key in probes.files:
        if not key.startswith(prefix):
            continue
        _, batch_size, input_name = key.split("/", 2)
        batches.setdefault(batch_size, {})[input_name] = probes[key]

    arrays = {}
    for batch_size, feed in batches.items():
        for output_name, value in run_artifact(feed).items():
            arrays[f"{batch_size}/{output_name}"] = np.asarray(value)
    np.savez(work_dir / f"{artifact}.outputs.npz", **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
