"""ONNX export: tf2onnx conversion, graph clean-up, ONNX Runtime checks.

`convert_part` runs in the TensorFlow subprocess, and so do `finalize` and
`pack_int8_weights`, which it calls. The other functions need only `onnx`
and `onnxruntime` and run in the exporting process.
"""

import contextlib
import logging
import os

import numpy as np
import onnx

logger = logging.getLogger(__name__)

OPSET = 17
BATCH_DIM = "batch"
QUANTIZATIONS = ("int8", "float16")


def convert_part(function, input_signature, input_names, output_names, metadata, path, opset=OPSET):
    """Convert a traced part to ONNX and write the cleaned-up model.

    Args:
        function: a `tf.function` returning a list of output tensors in the
            order of `output_names`.
        input_signature: the `tf.TensorSpec`s, named after the inputs, with
            batch dimension `None`.
        input_names: the part's input layer names.
        output_names: the part's output layer names.
        metadata: string key-value pairs stored as `metadata_props`.
        path: where to write the `.onnx` file.
        opset: the ONNX opset, 17 or newer.
    """
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_function(
        function, input_signature=input_signature, opset=opset
    )
    model_proto = finalize(model_proto, input_names, output_names, metadata)
    onnx.save_model(model_proto, os.fspath(path))


def finalize(model_proto, input_names, output_names, metadata):
    """Rename inputs, outputs and the batch dimension, add metadata and check the model.

    tf2onnx names outputs after TensorFlow tensors (`Identity:0`) and the
    dynamic batch dimension `unk__N`. Serving reads `images`,
    `embeddings`, ... and a batch dimension named `batch`.

    Args:
        model_proto: the `onnx.ModelProto` from tf2onnx.
        input_names: the expected graph input names, in order.
        output_names: the expected graph output names, in order.
        metadata: string key-value pairs for `metadata_props`.

    Returns:
        The checked model with inferred shapes.

    Raises:
        ValueError: the graph has a different number of inputs or outputs.
    """
    graph = model_proto.graph
    if len(graph.input) != len(input_names) or len(graph.output) != len(output_names):
        raise ValueError(
            f"tf2onnx produced the inputs {[i.name for i in graph.input]} and outputs "
            f"{[o.name for o in graph.output]}; expected {input_names} and {output_names}."
        )

    renames = {}
    for value, name in zip(list(graph.input) + list(graph.output), list(input_names) + list(output_names)):
        if value.name != name:
            renames[value.name] = name
    _rename_values(graph, renames)

    batch_params = set()
    for value in list(graph.input) + list(graph.output):
        first = value.type.tensor_type.shape.dim[0]
        if first.dim_param:
            batch_params.add(first.dim_param)
        first.dim_param = BATCH_DIM
    # Intermediate shapes that tf2onnx recorded keep the same symbol.
    for value in graph.value_info:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in batch_params:
                dim.dim_param = BATCH_DIM

    pack_int8_weights(model_proto)

    del model_proto.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model_proto.metadata_props.add(key=key, value=str(value))

    onnx.checker.check_model(model_proto, full_check=True)
    return onnx.shape_inference.infer_shapes(model_proto, check_type=True, strict_mode=True)


def pack_int8_weights(model_proto, min_size=1024, tolerance=1e-3):
    """Store the float weights that lie on a per-channel int8 grid as int8, in place.

    A kernel rounded by `zoo.weights.round_kernels_to_int8` holds only the
    values `q * scale` with integer `q` in [-127, 127] and one scale per
    output channel. Such an initializer is replaced by its int8 `q`, its
    float32 scales and a `DequantizeLinear` node, which gives back the
    same float32 values at load time. So the file shrinks, and the outputs
    stay within float32 rounding of the Keras model. An initializer whose
    values are not on a grid (a kernel trained in float32) is left alone.

    Args:
        model_proto: an `onnx.ModelProto`, changed in place.
        min_size: initializers with fewer values stay float32, since the
            scales and the extra node would save little.
        tolerance: the largest distance from the grid accepted, as a
            fraction of the channel's scale. tf2onnx may fold a per-channel
            factor into a kernel, which moves the values off the grid by a
            few float32 roundings only.

    Returns:
        The number of initializers packed.
    """
    from onnx import helper, numpy_helper

    from zoo.weights import int8_grid

    graph = model_proto.graph
    packed, saved = 0, 0
    for initializer in list(graph.initializer):
        if initializer.data_type != onnx.TensorProto.FLOAT or np.prod(initializer.dims) < min_size:
            continue
        values = numpy_helper.to_array(initializer)
        if values.ndim < 2:
            continue

        # Conv kernels have their output channel first (OIHW), MatMul kernels last.
        for axis in (0, values.ndim - 1):
            q, scale = int8_grid(values, axis)
            shape = [1] * values.ndim
            shape[axis] = -1
            if np.max(np.abs(q * scale.reshape(shape) - values) / scale.reshape(shape)) <= tolerance:
                break
        else:
            continue

        name = initializer.name
        graph.initializer.remove(initializer)
        graph.initializer.extend([
            numpy_helper.from_array(q.astype(np.int8), f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
        ])
        graph.node.insert(0, helper.make_node(
            "DequantizeLinear", [f"{name}_int8", f"{name}_scale"], [name], name=f"{name}_dequantize", axis=axis
        ))
        packed += 1
        saved += values.nbytes - q.size - scale.nbytes

    if packed:
        logger.info("Stored %d kernels as int8 with per-channel scales, %.1f MB smaller", packed, saved / 1e6)
    return packed


def _rename_values(graph, renames):
    """Rename graph values everywhere they are produced or consumed."""
    if not renames:
        return
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        value.name = renames.get(value.name, value.name)
    for node in graph.node:
        for index, name in enumerate(node.input):
            node.input[index] = renames.get(name, name)
        for index, name in enumerate(node.output):
            node.output[index] = renames.get(name, name)


def run(path, inputs):
    """Run an ONNX model with ONNX Runtime on the CPU.

    Args:
        path: the `.onnx` file.
        inputs: a dict from input name to array.

    Returns:
        A dict from output name to array.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        os.fspath(path), options, providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {name: np.asarray(value) for name, value in inputs.items()})
    return dict(zip(names, values))


@contextlib.contextmanager
def _root_logger_above_info():
    """Raise the root logger to WARNING for the block, then restore its level.

    ONNX Runtime's quantizer (1.31) logs one "Quantization parameters for
    tensor ... not specified" line per tensor through the root logger at
    INFO. Missing parameters are expected for dynamic quantization, so the
    lines give the user nothing to act on.
    """
    root = logging.getLogger()
    level = root.level
    if root.getEffectiveLevel() < logging.WARNING:
        root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize(source, target, mode):
    """Write a quantized copy of an ONNX model.

    Args:
        source: the float32 `.onnx` file.
        target: the file to write.
        mode: `"int8"` for ONNX Runtime dynamic quantization (int8 weights,
            activations quantized at run time) or `"float16"` for float16
            weights and activations with float32 inputs and outputs.

    Raises:
        ValueError: `mode` is not one of `QUANTIZATIONS`.
    """
    if mode == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _root_logger_above_info():
            quantize_dynamic(os.fspath(source), os.fspath(target), weight_type=QuantType.QInt8)
    elif mode == "float16":
        # onnxruntime ships the float16 converter of onnxconverter-common.
        from onnxruntime.transformers.float16 import convert_float_to_float16

        from onnxruntime.transformers.onnx_model import OnnxModel

        model_proto = onnx.load(os.fspath(source))
        converted = OnnxModel(convert_float_to_float16(model_proto, keep_io_types=True))
        # The converter appends the input casts at the end of the node
        # list, and the ONNX checker needs topological order.
        converted.topological_sort()
        onnx.save_model(converted.model, os.fspath(target))
    else:
        raise ValueError(f"ONNX quantization must be one of {QUANTIZATIONS}. Received: {mode!r}")

    model_proto = onnx.load(os.fspath(target))
    onnx.checker.check_model(model_proto, full_check=True)


def describe(path):
    """Return the input and output names, element types and shapes of an ONNX model.

    Returns:
        `{"inputs": [...], "outputs": [...]}`, each entry a dict with `name`,
        `elem_type` (an `onnx.TensorProto` enum value) and `shape` (ints,
        or strings for symbolic dimensions).
    """
    model_proto = onnx.load(os.fspath(path), load_external_data=False)

    def entries(values):
        rows = []
        for value in values:
            tensor_type = value.type.tensor_type
            shape = [dim.dim_param or dim.dim_value for dim in tensor_type.shape.dim]
            rows.append({"name": value.name, "elem_type": tensor_type.elem_type, "shape": shape})
        return rows

    return {"inputs": entries(model_proto.graph.input), "outputs": entries(model_proto.graph.output)}
