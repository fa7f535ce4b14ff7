"""Tiny ONNX models built with `onnx.helper`, so serving tests need no Keras.

Each builder writes a model whose output numpy can compute exactly, and
returns the weights the test needs for its golden values.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HEIGHT, WIDTH, CHANNELS = 8, 8, 1
PIXELS = HEIGHT * WIDTH * CHANNELS
EMBEDDING_DIM = 6
LATENT_DIM = 4
THRESHOLD_FAR_1E2 = 0.9
THRESHOLD_FAR_1E3 = 0.7


def _image_metadata(task, **extra):
    metadata = {
        "zoo_task": task,
        "model_name": f"tiny-{task}",
        "input_height": str(HEIGHT),
        "input_width": str(WIDTH),
        "input_channels": str(CHANNELS),
        "backend": "onnx.helper",
    }
    metadata.update({key: str(value) for key, value in extra.items()})
    return metadata


def _save(path, nodes, inputs, outputs, initializers, metadata):
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _images_input(name="images"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", HEIGHT, WIDTH, CHANNELS])


def _flatten_nodes(matrix_name, output):
    return [
        helper.make_node("Flatten", ["images"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", matrix_name], [output]),
    ]


def embedder_weights():
    return np.random.default_rng(1).standard_normal((PIXELS, EMBEDDING_DIM)).astype(np.float32)


def build_embedder(path, normalise=True):
    """images (N, 8, 8, 1) -> flatten @ W -> L2-normalise -> embeddings (N, 6)."""
    weights = embedder_weights()
    nodes = _flatten_nodes("W", "raw" if normalise else "embeddings")
    if normalise:
        nodes.append(helper.make_node("LpNormalization", ["raw"], ["embeddings"], axis=1, p=2))
    metadata = _image_metadata(
        "embedder",
        embedding_dim=EMBEDDING_DIM,
        **{"threshold_far_1e-2": THRESHOLD_FAR_1E2, "threshold_far_1e-3": THRESHOLD_FAR_1E3},
    )
    return _save(
        path,
        nodes,
        [_images_input()],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["N", EMBEDDING_DIM])],
        [numpy_helper.from_array(weights, "W")],
        metadata,
    )


def embed_numpy(images):
    """Golden embeddings for float32 (N, 8, 8, 1) images."""
    raw = images.reshape(len(images), -1).astype(np.float64) @ embedder_weights().astype(np.float64)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def decoder_weights():
    rng = np.random.default_rng(2)
    return (
        rng.standard_normal((LATENT_DIM, PIXELS)).astype(np.float32),
        rng.standard_normal(PIXELS).astype(np.float32),
    )


def build_decoder(path, task="decoder", shift=0.0):
    """z (N, 4) -> sigmoid(z @ W + b) + shift -> images (N, 8, 8, 1)."""
    weights, bias = decoder_weights()
    nodes = [
        helper.make_node("MatMul", ["z", "W"], ["linear"]),
        helper.make_node("Add", ["linear", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
        helper.make_node("Add", ["probabilities", "shift"], ["shifted"]),
        helper.make_node("Reshape", ["shifted", "shape"], ["images"]),
    ]
    initializers = [
        numpy_helper.from_array(weights, "W"),
        numpy_helper.from_array(bias, "b"),
        numpy_helper.from_array(np.array(shift, dtype=np.float32), "shift"),
        numpy_helper.from_array(np.array([-1, HEIGHT, WIDTH, CHANNELS], dtype=np.int64), "shape"),
    ]
    return _save(
        path,
        nodes,
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", LATENT_DIM])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", HEIGHT, WIDTH, CHANNELS])],
        initializers,
        _image_metadata(task, latent_dim=LATENT_DIM),
    )


def decode_numpy(z):
    weights, bias = decoder_weights()
    logits = np.asarray(z, dtype=np.float64) @ weights.astype(np.float64) + bias
    return (1.0 / (1.0 + np.exp(-logits))).reshape(-1, HEIGHT, WIDTH, CHANNELS)


def encoder_weights():
    return np.random.default_rng(3).standard_normal((PIXELS, LATENT_DIM)).astype(np.float32) / 8


def build_encoder(path, variational=False):
    """images -> flatten @ W -> z; a VAE also returns z_log_var = -z_mean."""
    nodes = _flatten_nodes("W", "z_mean" if variational else "z")
    outputs = ["z_mean", "z_log_var"] if variational else ["z"]
    if variational:
        nodes.append(helper.make_node("Neg", ["z_mean"], ["z_log_var"]))
    return _save(
        path,
        nodes,
        [_images_input()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", LATENT_DIM]) for name in outputs],
        [numpy_helper.from_array(encoder_weights(), "W")],
        _image_metadata("encoder", latent_dim=LATENT_DIM),
    )


def encode_numpy(images):
    return images.reshape(len(images), -1).astype(np.float64) @ encoder_weights().astype(np.float64)


def build_translator(path):
    """images -> 1 - images -> translated (an image negative)."""
    nodes = [
        helper.make_node("Sub", ["one", "images"], ["translated"]),
    ]
    return _save(
        path,
        nodes,
        [_images_input()],
        [helper.make_tensor_value_info("translated", TensorProto.FLOAT, ["N", HEIGHT, WIDTH, CHANNELS])],
        [numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")],
        _image_metadata("translator"),
    )
