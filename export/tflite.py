"""TFLite export: float32, float16 and dynamic-range int8.

Every function here runs in the TensorFlow subprocess.
"""

import os

import numpy as np

QUANTIZATIONS = ("int8", "float16")


def write(savedmodel_path, path, quantize=None):
    """Convert a SavedModel's `serving_default` signature to a `.tflite` flatbuffer.

    Converting from a SavedModel, not from a concrete function, keeps the
    signature in the flatbuffer, so the TFLite inputs and outputs carry the
    part's layer names.

    Args:
        savedmodel_path: a SavedModel written by `export.savedmodel.write`.
        path: the `.tflite` file to write.
        quantize: `None` for float32, `"float16"` for float16 weights, or
            `"int8"` for dynamic-range quantization (int8 weights, float
            activations), which needs no calibration data.

    Raises:
        ValueError: `quantize` is not one of `QUANTIZATIONS`.
    """
    import tensorflow as tf

    from export.savedmodel import SIGNATURE_KEY

    converter = tf.lite.TFLiteConverter.from_saved_model(
        os.fspath(savedmodel_path), signature_keys=[SIGNATURE_KEY]
    )
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize is not None:
        raise ValueError(f"TFLite quantization must be one of {QUANTIZATIONS}. Received: {quantize!r}")

    with open(path, "wb") as file:
        file.write(converter.convert())


def run(path, inputs):
    """Run the signature of a `.tflite` model with the TFLite interpreter.

    Args:
        path: the `.tflite` file.
        inputs: a dict from input name to array. The signature runner
            resizes the inputs to their batch size.

    Returns:
        A dict from output name to array.
    """
    import tensorflow as tf

    from export.savedmodel import SIGNATURE_KEY

    interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
    runner = interpreter.get_signature_runner(SIGNATURE_KEY)
    return runner(**{name: np.asarray(value, "float32") for name, value in inputs.items()})
