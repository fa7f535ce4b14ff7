"""Parity checks: exported outputs against the Keras part on probe inputs.

The exporting process computes the reference outputs under its own Keras
backend, while the artifacts are built by TensorFlow. A check that passes
therefore also shows that the backends agree on the part.
"""

import numpy as np

from export.errors import ExportValidationError
from export.runs import input_names, output_names
from zoo.errors import InvalidConfigError

PROBE_BATCH_SIZES = (1, 7)
PROBE_SEED = 1234
FLOAT32_TOLERANCE = 1e-5


def probe_inputs(part_model, batch_sizes=PROBE_BATCH_SIZES, seed=PROBE_SEED):
    """Draw seeded probe inputs for every input of a part.

    Inputs named `images` are uniform in [0, 1), as the part conventions
    require; every other input (a latent `z`, ...) is standard normal.

    Args:
        part_model: the functional part.
        batch_sizes: the batch sizes to probe.
        seed: the NumPy seed.

    Returns:
        A dict from batch size to a dict from input name to a float32 array
        of shape `(batch_size, *input_shape[1:])`.

    Raises:
        InvalidConfigError: an input has an unknown dimension besides the batch.
    """
    rng = np.random.default_rng(seed)
    probes = {}
    for batch_size in batch_sizes:
        arrays = {}
        for name, tensor in zip(input_names(part_model), part_model.inputs):
            shape = tuple(tensor.shape[1:])
            if any(dim is None for dim in shape):
                # TODO: probe parts with variable image sizes at a size read from the part metadata.
                raise InvalidConfigError(
                    f"Input '{name}' has the shape {tensor.shape}; the exporter needs every "
                    "dimension except the batch to be fixed."
                )
            if name == "images":
                array = rng.uniform(size=(batch_size, *shape))
            else:
                array = rng.normal(size=(batch_size, *shape))
            arrays[name] = array.astype("float32")
        probes[batch_size] = arrays
    return probes


def keras_outputs(part_model, inputs):
    """Run a part in inference mode under the active backend.

    Args:
        part_model: the functional part.
        inputs: a dict from input name to array.

    Returns:
        A dict from output name to a NumPy array.
    """
    import keras

    names = input_names(part_model)
    arguments = [inputs[name] for name in names]
    outputs = part_model(arguments if len(arguments) > 1 else arguments[0], training=False)
    if isinstance(outputs, dict):
        outputs = [outputs[name] for name in output_names(part_model)]
    elif not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {
        name: keras.ops.convert_to_numpy(value)
        for name, value in zip(output_names(part_model), outputs)
    }


def compare_outputs(reference, actual, artifact, part, batch_size, tolerance=None):
    """Compare two dicts of outputs by maximum absolute difference.

    Args:
        reference: a dict from output name to the Keras output array.
        actual: a dict from output name to the artifact's output array.
        artifact: the artifact's file name, for the messages.
        part: the part name.
        batch_size: the probe batch size.
        tolerance: the allowed maximum absolute difference, or `None` to
            record the differences without failing (quantized artifacts).

    Returns:
        `(deltas, failures)`: `deltas` maps output name to its maximum
        absolute difference; `failures` lists the outputs above `tolerance`
        in the form `ExportValidationError.failures` uses. A missing output
        or a shape mismatch counts as an infinite difference.
    """
    deltas = {}
    failures = []
    for name, expected in reference.items():
        received = actual.get(name)
        if received is None or np.shape(received) != np.shape(expected):
            difference = float("inf")
        else:
            difference = float(np.max(np.abs(np.asarray(received, "float64") - expected)))
        if np.isnan(difference):
            difference = float("inf")
        deltas[name] = difference
        if tolerance is not None and not difference <= tolerance:
            failures.append(
                {
                    "artifact": artifact,
                    "part": part,
                    "output": name,
                    "batch_size": batch_size,
                    "max_abs_diff": difference,
                    "tolerance": tolerance,
                }
            )
    return deltas, failures


def merge_deltas(per_batch):
    """Reduce `{batch_size: {output: delta}}` to `{output: max delta}` and keep the detail."""
    merged = {}
    for deltas in per_batch.values():
        for name, value in deltas.items():
            merged[name] = max(merged.get(name, 0.0), value)
    return {
        "max_abs_diff": merged,
        "per_batch_size": {str(size): deltas for size, deltas in per_batch.items()},
    }


def raise_on_failures(failures):
    """Raise `ExportValidationError` listing every failure, if there is any."""
    if failures:
        raise ExportValidationError(failures)
