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
# Smaller than THRESHOLD_FAR_1E2, so a probe at a distance between the two shows which one identify used.
THRESHOLD_FPIR_1E2 = 0.5
OPEN_SET_GALLERY_IDENTITIES = 38.0


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


def build_embedder(path, normalise=True, open_set=False):
    """images (N, 8, 8, 1) -> flatten @ W -> L2-normalise -> embeddings (N, 6).

    The metadata has the 1:1 thresholds for FAR 1e-2 and 1e-3. With
    `open_set`, it also has the open-set threshold for FPIR 1e-2 and its
    gallery size, but none for FPIR 1e-3, as when too few searches fit it.
    """
    weights = embedder_weights()
    nodes = _flatten_nodes("W", "raw" if normalise else "embeddings")
    if normalise:
        nodes.append(helper.make_node("LpNormalization", ["raw"], ["embeddings"], axis=1, p=2))
    thresholds = {"threshold_far_1e-2": THRESHOLD_FAR_1E2, "threshold_far_1e-3": THRESHOLD_FAR_1E3}
    if open_set:
        thresholds["threshold_fpir_1e-2"] = THRESHOLD_FPIR_1E2
        thresholds["open_set_gallery_identities"] = OPEN_SET_GALLERY_IDENTITIES
    metadata = _image_metadata("embedder", embedding_dim=EMBEDDING_DIM, **thresholds)
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


# A tiny StyleGAN export: the generator, mapping and synthesis parts of one network.
STYLE_W_DIM = 3
STYLE_NUM_WS = 4
STYLE_RESOLUTIONS = "4,8,8,8"


def style_weights(seed=4):
    """Return (M, w_avg, S, b): mapping f(z) = tanh(z @ M); synthesis sigmoid(flat(ws) @ S + b)."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((LATENT_DIM, STYLE_W_DIM)).astype(np.float32),
        rng.standard_normal(STYLE_W_DIM).astype(np.float32),
        rng.standard_normal((STYLE_NUM_WS * STYLE_W_DIM, PIXELS)).astype(np.float32),
        rng.standard_normal(PIXELS).astype(np.float32),
    )


def _style_metadata(task, role, **extra):
    return _image_metadata(
        task,
        model_name="StyleGAN",
        part_role=role,
        latent_dim=LATENT_DIM,
        w_dim=STYLE_W_DIM,
        num_ws=STYLE_NUM_WS,
        style_resolutions=STYLE_RESOLUTIONS,
        **extra,
    )


def _mapping_nodes(output):
    """z, psi -> w_avg + psi * (tanh(z @ M) - w_avg)."""
    return [
        helper.make_node("MatMul", ["z", "M"], ["mapped"]),
        helper.make_node("Tanh", ["mapped"], ["f"]),
        helper.make_node("Sub", ["f", "w_avg"], ["offset"]),
        helper.make_node("Mul", ["psi", "offset"], ["scaled"]),
        helper.make_node("Add", ["w_avg", "scaled"], [output]),
    ]


def _synthesis_nodes(ws):
    """ws (N, num_ws, w_dim) -> sigmoid(flat(ws) @ S + b) -> images (N, 8, 8, 1)."""
    return [
        helper.make_node("Reshape", [ws, "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "S"], ["linear"]),
        helper.make_node("Add", ["linear", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
        helper.make_node("Reshape", ["probabilities", "image_shape"], ["images"]),
    ]


def _style_initializers(seed):
    mapping, w_avg, synthesis, bias = style_weights(seed)
    return [
        numpy_helper.from_array(mapping, "M"),
        numpy_helper.from_array(w_avg, "w_avg"),
        numpy_helper.from_array(synthesis, "S"),
        numpy_helper.from_array(bias, "b"),
        numpy_helper.from_array(np.array([-1, STYLE_NUM_WS * STYLE_W_DIM], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([-1, HEIGHT, WIDTH, CHANNELS], dtype=np.int64), "image_shape"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_1"),
    ]


def _latent_inputs():
    return [
        helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", LATENT_DIM]),
        helper.make_tensor_value_info("psi", TensorProto.FLOAT, ["N", 1]),
    ]


def _images_output():
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", HEIGHT, WIDTH, CHANNELS])


def build_style_parts(folder, seed=4, mapping_seed=None):
    """Write generator.onnx, mapping.onnx and synthesis.onnx into `folder`.

    Args:
        folder: the output folder, a `pathlib.Path`.
        seed: the seed of the weights of every part.
        mapping_seed: another seed for mapping.onnx only, which makes a
            mapping part of another run.

    Returns:
        The path of generator.onnx.
    """
    folder.mkdir(parents=True, exist_ok=True)
    broadcast = [helper.make_node("Unsqueeze", ["w", "axis_1"], ["w_1"])]
    broadcast.append(helper.make_node("Concat", ["w_1"] * STYLE_NUM_WS, ["ws"], axis=1))
    _save(
        folder / "generator.onnx",
        _mapping_nodes("w") + broadcast + _synthesis_nodes("ws"),
        _latent_inputs(),
        [_images_output()],
        _style_initializers(seed),
        _style_metadata("generator", "generator"),
    )
    mapping_initializers = _style_initializers(seed if mapping_seed is None else mapping_seed)
    _save(
        folder / "mapping.onnx",
        _mapping_nodes("w"),
        _latent_inputs(),
        [helper.make_tensor_value_info("w", TensorProto.FLOAT, ["N", STYLE_W_DIM])],
        [item for item in mapping_initializers if item.name in ("M", "w_avg")],
        _style_metadata("encoder", "mapping"),
    )
    _save(
        folder / "synthesis.onnx",
        _synthesis_nodes("ws"),
        [helper.make_tensor_value_info("ws", TensorProto.FLOAT, ["N", STYLE_NUM_WS, STYLE_W_DIM])],
        [_images_output()],
        [item for item in _style_initializers(seed) if item.name in ("S", "b", "flat_shape", "image_shape")],
        _style_metadata("decoder", "synthesis"),
    )
    return folder / "generator.onnx"


def style_numpy(z, psi, seed=4):
    """Golden (w, images) of the tiny StyleGAN for z (N, 4) and psi, one w for every layer."""
    mapping, w_avg, _, _ = (array.astype(np.float64) for array in style_weights(seed))
    psi = np.reshape(np.asarray(psi, dtype=np.float64), (-1, 1))
    w = w_avg + psi * (np.tanh(np.asarray(z, dtype=np.float64) @ mapping) - w_avg)
    return w, synthesis_numpy(np.repeat(w[:, None, :], STYLE_NUM_WS, axis=1), seed)


def synthesis_numpy(ws, seed=4):
    """Golden images of the tiny StyleGAN for styles (N, num_ws, w_dim)."""
    _, _, synthesis, bias = (array.astype(np.float64) for array in style_weights(seed))
    logits = np.reshape(ws, (len(ws), -1)) @ synthesis + bias
    return (1.0 / (1.0 + np.exp(-logits))).reshape(-1, HEIGHT, WIDTH, CHANNELS)
