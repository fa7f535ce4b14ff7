"""Export side effects: no local paths in metadata, quiet quantization and TensorFlow logs."""

import json
import logging

import pytest

from export import _worker
from export import onnx as onnx_export
from export.api import _training_data
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic


def test_training_data_drops_folders():
    run_config = {
        "data": {
            "source": "/work/shared/data/att_faces",
            "train": {"classes": 30, "images": 300},
            "classes": ["T-shirt/top", "Trouser"],
        }
    }

    metadata = json.loads(_training_data(run_config))

    assert metadata == {"source": "att_faces", "train": {"classes": 30, "images": 300}, "classes": ["T-shirt/top", "Trouser"]}


def test_training_data_keeps_names():
    assert _training_data({"data": {"name": "fashion-mnist", "source": "/data/x"}}) == "fashion-mnist"
    assert _training_data({"data": "/home/me/olivettifaces.mat"}) == "olivettifaces.mat"
    assert _training_data({"data": {"source": "../shared/data/fashion-mnist"}}) == '{"source":"fashion-mnist"}'


def test_int8_quantization_logs_no_info(tmp_path, caplog):
    source = tiny_models.build_embedder(tmp_path / "embedder.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO):
            onnx_export.quantize(source, tmp_path / "embedder.int8.onnx", "int8")
        restored = root.level
    finally:
        root.setLevel(level)

    assert restored == logging.INFO
    assert (tmp_path / "embedder.int8.onnx").is_file()
    assert not [record for record in caplog.records if "Quantization parameters" in record.getMessage()]


def test_worker_sets_tensorflow_log_level():
    environment = {}
    _worker.quiet_tensorflow_logs(environment)
    assert environment == {"TF_CPP_MIN_LOG_LEVEL": "2"}

    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    _worker.quiet_tensorflow_logs(chosen)
    assert chosen == {"TF_CPP_MIN_LOG_LEVEL": "0"}
