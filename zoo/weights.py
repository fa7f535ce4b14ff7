"""Round a model's kernels to 8-bit grids, so that exports can store them in 8 bits.

After `round_kernels_to_int8`, each output channel of each kernel holds
only the values `q * scale` for integers `q` in [-127, 127]. The Keras
model keeps computing in float32 with these values, and the ONNX export
stores such a kernel as int8 numbers and one float32 scale per channel,
which ONNX Runtime multiplies back into the same float32 values
(`export.onnx.pack_int8_weights`). So the file shrinks about 4 times,
while the exported model still matches the Keras model to float32
rounding, as the export's parity check requires.
"""

import logging

import numpy as np

INT8_LEVELS = 127

logger = logging.getLogger(__name__)


def int8_grid(values, axis=-1):
    """Return `(q, scale)`, the symmetric per-channel int8 rounding of `values`.

    Args:
        values: a float array.
        axis: the channel axis, one scale per index along it.

    Returns:
        `q`, float32 integers in [-127, 127] of the shape of `values`, and
        `scale`, float32 of shape (channels,), with `q * scale` (scale
        broadcast along `axis`) the rounded values. A channel of zeros gets
        scale 1.
    """
    values = np.asarray(values, dtype=np.float32)
    axis = axis % values.ndim
    others = tuple(index for index in range(values.ndim) if index != axis)
    largest = np.max(np.abs(values), axis=others)
    scale = np.where(largest > 0, largest / INT8_LEVELS, 1.0).astype(np.float32)

    shape = [1] * values.ndim
    shape[axis] = -1
    q = np.clip(np.rint(values / scale.reshape(shape)), -INT8_LEVELS, INT8_LEVELS).astype(np.float32)
    return q, scale


def round_kernels_to_int8(model):
    """Round every kernel of `model` (conv and dense layers) to an int8 grid per output channel, in place.

    The output channel is a kernel's last axis in Keras. Biases and
    normalisation statistics stay float32: they are small, and rounding
    them would cost accuracy for no size.

    Args:
        model: a built `keras.Model`.

    Returns:
        The number of kernels rounded.
    """
    rounded = 0
    for variable in model.weights:
        if variable.path.split("/")[-1] != "kernel" or len(variable.shape) < 2:
            continue
        q, scale = int8_grid(np.asarray(variable.numpy()), axis=-1)
        variable.assign(q * scale)
        rounded += 1

    logger.info("Rounded %d kernels to int8 grids (one scale per output channel)", rounded)
    return rounded
