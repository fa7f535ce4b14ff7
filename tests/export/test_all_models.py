"""Every part of every registered model exports to every format.

Each model is built with its default configuration and saved under the
active backend, then exported through the TensorFlow subprocess, whose
parity check compares every output with Keras within 1e-5.
"""

import importlib
import json

import keras
import pytest

from export import export_run
from zoo.registry import MODELS

FORMATS = ["onnx", "savedmodel", "tflite"]


def build(name):
    module_name, attribute = MODELS[name][0].split(":")
    model_class = getattr(importlib.import_module(module_name), attribute)
    if name == "TripletModel":
        from zoo.metric import build_embedder

        return model_class(build_embedder())
    return model_class()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registered_model_exports_everywhere(name, tmp_path):
    model = build(name)
    model.compile()
    model.save(tmp_path / "model.keras")
    (tmp_path / "config.json").write_text(json.dumps({"recipe": name, "backend": keras.backend.backend()}))

    report = export_run(tmp_path, FORMATS, out_dir=tmp_path / "export")

    parts = sorted(model.exportable_parts())
    for part in parts:
        for suffix in (".onnx", ".savedmodel", ".tflite"):
            assert (tmp_path / "export" / f"{part}{suffix}").exists(), f"{part}{suffix}"
    assert sorted(report["formats"]["onnx"]["parts"]) == parts


def test_inner_layer_and_patterns_export(tmp_path):
    import numpy as np

    from zoo.metric import TripletModel, add_local_patterns, build_embedder
    from zoo.metric.embedder import feature_embedder

    images = np.random.default_rng(0).uniform(size=(16, 28, 24, 1)).astype("float32")
    embedder = build_embedder((28, 24, 1), embedding_dim=8, widths=(4, 4), mirror_average=True)
    features = feature_embedder(embedder, "block1_pool")
    model = TripletModel(add_local_patterns(features, images, grid=(2, 2), components=8))
    model.compile()
    model.save(tmp_path / "model.keras")
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "triplet-faces", "backend": keras.backend.backend()}))

    report = export_run(tmp_path, FORMATS, out_dir=tmp_path / "export")

    for suffix in (".onnx", ".savedmodel", ".tflite"):
        assert (tmp_path / "export" / f"embedder{suffix}").exists(), f"embedder{suffix}"
    for format in FORMATS:
        parity = report["formats"][format]["parts"]["embedder"]["artifacts"][0]["parity"]
        assert parity["max_abs_diff"]["embeddings"] <= parity["tolerance"], format
