"""Kernels rounded to int8 grids are stored as int8 in ONNX and keep the export's parity."""

import json

import keras
import numpy as np
import onnx
import pytest

from export import export_run
from export.onnx import pack_int8_weights
from zoo.weights import INT8_LEVELS, int8_grid, round_kernels_to_int8


@pytest.mark.backend_agnostic
def test_grid_keeps_each_channel_maximum():
    values = np.array([[0.5, -2.0, 0.0], [-0.25, 1.0, 0.0]], dtype=np.float32)

    q, scale = int8_grid(values, axis=-1)

    np.testing.assert_allclose(scale, [0.5 / INT8_LEVELS, 2.0 / INT8_LEVELS, 1.0])
    np.testing.assert_array_equal(q, [[127, -127, 0], [-64, 64, 0]])
    np.testing.assert_allclose(q * scale, values, atol=0.5 * scale.max())


def test_rounding_touches_kernels_only():
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(), keras.layers.Dense(4)])
    model.layers[0].bias.assign(np.float32([0.1, 0.2, 0.3]))

    assert round_kernels_to_int8(model) == 2

    for layer in (model.layers[0], model.layers[2]):
        kernel = np.asarray(layer.kernel.numpy())
        q, scale = int8_grid(kernel, axis=-1)
        np.testing.assert_array_equal(q * scale, kernel)
    np.testing.assert_allclose(model.layers[0].bias.numpy(), [0.1, 0.2, 0.3])


@pytest.mark.backend_agnostic
def test_float_kernels_stay_float():
    kernel = np.random.default_rng(1).normal(size=(64, 32)).astype(np.float32)
    model_proto = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 64])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 32])],
        [onnx.numpy_helper.from_array(kernel, "w")],
    ))

    assert pack_int8_weights(model_proto) == 0
    assert model_proto.graph.initializer[0].data_type == onnx.TensorProto.FLOAT


# The export runs in a TensorFlow subprocess whatever the backend.
@pytest.mark.backend_agnostic
def test_rounded_embedder_exports_smaller(tmp_path):
    from zoo.metric import TripletModel, build_embedder

    sizes = {}
    for name, rounded in (("float", False), ("int8", True)):
        keras.utils.set_random_seed(0)
        model = TripletModel(build_embedder((28, 24, 1), embedding_dim=16, widths=(16, 32), mirror_average=True))
        if rounded:
            round_kernels_to_int8(model)
        run_dir = tmp_path / name
        run_dir.mkdir()
        model.compile()
        model.save(run_dir / "model.keras")
        (run_dir / "config.json").write_text(json.dumps({"recipe": "triplet-faces", "backend": keras.backend.backend()}))

        report = export_run(run_dir, ["onnx"], out_dir=run_dir / "export")

        parity = report["formats"]["onnx"]["parts"]["embedder"]["artifacts"][0]["parity"]
        assert parity["max_abs_diff"]["embeddings"] <= parity["tolerance"]
        path = run_dir / "export" / "embedder.onnx"
        sizes[name] = path.stat().st_size
        operators = {node.op_type for node in onnx.load(path).graph.node}
        assert ("DequantizeLinear" in operators) == rounded

    assert sizes["int8"] < 0.5 * sizes["float"]
