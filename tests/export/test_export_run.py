"""Export of a run folder trained under the current backend, through the TensorFlow subprocess.

The module trains `ExportFixtureEmbedder` once and exports it once to all
three formats in one subprocess. The tests then inspect the artifacts.
"""

import json
import pathlib
import shutil

import keras
import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import fixture_models
from export import ExportValidationError, export_run, parity, triton
from export import api as export_api
from export import onnx as onnx_export
from zoo.errors import CorruptFileError, InvalidConfigError

IMPORTS = ["fixture_models"]
HEIGHT, WIDTH, CHANNELS = fixture_models.IMAGE_SHAPE
# The layout of a face run's metrics.json: 1:1 thresholds at the top level,
# open-set ones under "open_set", null where too few searches fit one.
METRICS = {
    "threshold_far_1e-2": 0.98,
    "threshold_far_1e-3": 0.9,
    "open_set": {"gallery_identities": 38.0, "threshold_fpir_1e-2": 0.778, "threshold_fpir_1e-3": None},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = fixture_models.make_run_folder(tmp_path_factory.mktemp("run") / "run")
    (folder / "metrics.json").write_text(json.dumps(METRICS))
    return folder


@pytest.fixture(scope="module")
def report(run_dir):
    return export_run(
        run_dir,
        format=["onnx", "savedmodel", "tflite"],
        quantize="int8",
        import_modules=IMPORTS,
    )


def artifact(report, format_name, quantize=None, part="embedder"):
    entries = report["formats"][format_name]["parts"][part]["artifacts"]
    return next(entry for entry in entries if entry["quantize"] == quantize)


def test_export_writes_every_artifact(report, run_dir):
    out_dir = run_dir / "export"
    names = sorted(path.name for path in out_dir.iterdir())
    assert names == [
        "embedder.int8.onnx",
        "embedder.int8.tflite",
        "embedder.onnx",
        "embedder.savedmodel",
        "embedder.tflite",
        "export_report.json",
    ]
    saved = json.loads((out_dir / "export_report.json").read_text())
    assert saved["formats"].keys() == report["formats"].keys()
    assert saved["reference_backend"] == keras.backend.backend()
    assert saved["trained_backend"] == keras.backend.backend()


def test_onnx_parity_with_keras(report, run_dir):
    entry = artifact(report, "onnx")
    assert entry["parity"]["max_abs_diff"]["embeddings"] <= 1e-5
    assert set(entry["parity"]["per_batch_size"]) == {"1", "7"}

    # Independently of the report: a fresh batch of 3, through ONNX Runtime
    # and through the Keras part under this backend.
    model = keras.saving.load_model(run_dir / "model.keras")
    part = model.exportable_parts()["embedder"].model
    images = np.random.default_rng(9).uniform(size=(3, HEIGHT, WIDTH, CHANNELS)).astype("float32")
    expected = keras.ops.convert_to_numpy(part(images, training=False))
    received = onnx_export.run(entry["path"], {"images": images})["embeddings"]
    assert received.shape == (3, fixture_models.EMBEDDING_DIM)
    np.testing.assert_allclose(received, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(received, axis=1), 1.0, atol=1e-5)


def test_onnx_names_batch_dim_and_metadata(report):
    model_proto = onnx.load(artifact(report, "onnx")["path"])
    graph = model_proto.graph
    assert [value.name for value in graph.input] == ["images"]
    assert [value.name for value in graph.output] == ["embeddings"]

    input_dims = graph.input[0].type.tensor_type.shape.dim
    output_dims = graph.output[0].type.tensor_type.shape.dim
    assert input_dims[0].dim_param == "batch"
    assert output_dims[0].dim_param == "batch"
    assert [dim.dim_value for dim in input_dims[1:]] == [HEIGHT, WIDTH, CHANNELS]
    assert output_dims[1].dim_value == fixture_models.EMBEDDING_DIM

    opsets = {entry.domain: entry.version for entry in model_proto.opset_import}
    assert opsets[""] >= 17

    metadata = {entry.key: entry.value for entry in model_proto.metadata_props}
    assert metadata["zoo_task"] == "embedder"
    assert metadata["model_name"] == "export_fixture"
    assert metadata["backend"] == keras.backend.backend()
    assert metadata["keras_version"] == keras.__version__
    assert metadata["training_data"] == "uniform-noise"
    assert metadata["embedding_dim"] == str(fixture_models.EMBEDDING_DIM)
    assert metadata["input_height"] == str(HEIGHT)
    assert metadata["input_width"] == str(WIDTH)
    assert metadata["input_channels"] == str(CHANNELS)
    assert "zoo_version" in metadata
    onnx.checker.check_model(model_proto, full_check=True)


def test_onnx_metadata_carries_thresholds(report):
    from serving import Embedder

    path = artifact(report, "onnx")["path"]
    metadata = {entry.key: entry.value for entry in onnx.load(path).metadata_props}

    assert metadata["threshold_far_1e-2"] == repr(0.98)
    assert metadata["threshold_far_1e-3"] == repr(0.9)
    assert metadata["threshold_fpir_1e-2"] == repr(0.778)
    assert "threshold_fpir_1e-3" not in metadata
    assert metadata["open_set_gallery_identities"] == repr(38.0)

    embedder = Embedder(path, providers=["CPUExecutionProvider"])
    assert embedder.identify_threshold().value == 0.778
    assert embedder.identify_threshold().fpir == 1e-2


@pytest.mark.parametrize(
    "metrics, expected",
    [
        ({}, {}),
        ({"threshold_far_1e-2": 0.5, "open_set": {"gallery_identities": 10.0, "threshold_fpir_1e-2": None}}, {"threshold_far_1e-2": "0.5"}),
        ({"open_set": {"threshold_fpir_1e-2": 0.25}}, {"threshold_fpir_1e-2": "0.25"}),
        ({"threshold_far_1e-2": True, "open_set": {"threshold_fpir_1e-2": float("nan")}}, {}),
        (
            {"open_set": {"gallery_identities": 12.5, "threshold_fpir_1e-2": 1, "threshold_fpir_1e-3": 0.5}},
            {"threshold_fpir_1e-2": "1.0", "threshold_fpir_1e-3": "0.5", "open_set_gallery_identities": "12.5"},
        ),
    ],
)
def test_threshold_metadata_from_metrics(metrics, expected):
    assert export_api._threshold_metadata(metrics) == expected


def test_onnx_int8_delta_recorded(report):
    float32 = artifact(report, "onnx")
    int8 = artifact(report, "onnx", "int8")
    delta = int8["parity"]["max_abs_diff"]["embeddings"]
    assert int8["parity"]["tolerance"] is None
    assert 0.0 < delta < 0.2
    assert int8["size_ratio_to_float32"] == pytest.approx(int8["size_bytes"] / float32["size_bytes"])


def test_onnx_float16_conversion(report, tmp_path):
    source = artifact(report, "onnx")["path"]
    target = tmp_path / "embedder.float16.onnx"
    onnx_export.quantize(source, target, "float16")
    images = np.random.default_rng(5).uniform(size=(7, HEIGHT, WIDTH, CHANNELS)).astype("float32")
    expected = onnx_export.run(source, {"images": images})["embeddings"]
    received = onnx_export.run(target, {"images": images})["embeddings"]
    assert received.dtype == np.float32
    assert 0.0 < np.max(np.abs(received - expected)) < 1e-2
    assert target.stat().st_size < pathlib.Path(source).stat().st_size


def test_savedmodel_signature_and_parity(report):
    entry = artifact(report, "savedmodel")
    assert entry["signature"] == {
        "inputs": {"images": [None, HEIGHT, WIDTH, CHANNELS]},
        "outputs": {"embeddings": [None, fixture_models.EMBEDDING_DIM]},
    }
    assert entry["parity"]["max_abs_diff"]["embeddings"] <= 1e-5


def test_tflite_parity_and_int8_delta(report):
    float32 = artifact(report, "tflite")
    int8 = artifact(report, "tflite", "int8")
    assert float32["parity"]["max_abs_diff"]["embeddings"] <= 1e-5
    delta = int8["parity"]["max_abs_diff"]["embeddings"]
    assert 0.0 < delta < 0.2
    assert int8["size_bytes"] < float32["size_bytes"]


def test_triton_repository_matches_onnx(report, tmp_path):
    onnx_path = artifact(report, "onnx")["path"]
    model_dir = triton.write_model_repository(onnx_path, tmp_path / "models", max_batch_size=16)
    config = triton.read_config(model_dir)

    assert model_dir.name == "embedder"
    assert (model_dir / "1" / "model.onnx").read_bytes() == open(onnx_path, "rb").read()
    assert config["name"] == "embedder"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["max_batch_size"] == 16
    assert config["dynamic_batching"] == {}

    description = onnx_export.describe(onnx_path)
    for section in ("input", "output"):
        expected = [
            {"name": tensor["name"], "data_type": "TYPE_FP32", "dims": tensor["shape"][1:]}
            for tensor in description[f"{section}s"]
        ]
        assert config[section] == expected

    with pytest.raises(FileExistsError, match="already exists"):
        triton.write_model_repository(onnx_path, tmp_path / "models")


def test_triton_parser_reads_comments_and_repeats():
    text = '# comment\nname: "a"\ninput { name: "x" dims: [ 1, -1 ] }\ninput { name: "y" dims: [ 2 ] }\n'
    config = triton.parse_config(text)
    assert config == {"name": "a", "input": [{"name": "x", "dims": [1, -1]}, {"name": "y", "dims": [2]}]}
    with pytest.raises(ValueError, match="Missing"):
        triton.parse_config("input { name: 'x'")


def reuse_onnx_worker(report):
    """Return a stand-in for the conversion subprocess that copies the module's ONNX file."""
    source = artifact(report, "onnx")["path"]

    def fake_worker(work_dir, *args, **kwargs):
        shutil.copyfile(source, work_dir / "embedder.onnx")
        return {
            "embedder": {
                "inputs": ["images"],
                "outputs": ["embeddings"],
                "artifacts": {"onnx": [{"file": "embedder.onnx", "quantize": None}]},
            }
        }

    return fake_worker


def test_parity_failure_writes_nothing(report, run_dir, tmp_path, monkeypatch):
    # Reuse the converted ONNX file instead of a second subprocess, and
    # shift the Keras reference so that every output is off by 1e-3.
    monkeypatch.setattr(export_api, "_run_worker", reuse_onnx_worker(report))
    real_outputs = parity.keras_outputs
    monkeypatch.setattr(
        parity,
        "keras_outputs",
        lambda model, feed: {name: value + 1e-3 for name, value in real_outputs(model, feed).items()},
    )
    out_dir = tmp_path / "out"
    with pytest.raises(ExportValidationError) as caught:
        export_run(run_dir, out_dir=out_dir, import_modules=IMPORTS)

    failures = caught.value.failures
    assert {failure["batch_size"] for failure in failures} == {1, 7}
    assert all(failure["output"] == "embeddings" for failure in failures)
    assert all(failure["max_abs_diff"] == pytest.approx(1e-3, rel=1e-2) for failure in failures)
    assert "tolerance 1e-05" in str(caught.value)
    assert not out_dir.exists()


def test_existing_output_needs_overwrite(report, run_dir):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_run(run_dir, format="onnx", import_modules=IMPORTS)


@pytest.mark.parametrize("missing", ["model.keras", "config.json"])
def test_missing_run_file(run_dir, tmp_path, missing):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("export"))
    (copy / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f"has no {missing}"):
        export_run(copy, import_modules=IMPORTS)


def test_missing_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run folder not found"):
        export_run(tmp_path / "absent")


def test_truncated_keras_file(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("export"))
    data = (copy / "model.keras").read_bytes()
    (copy / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        export_run(copy, import_modules=IMPORTS)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"format": "coreml"}, "Unknown export format"),
        ({"quantize": "int4"}, "Unknown quantization"),
        ({"format": "savedmodel", "quantize": "int8"}, "no SavedModel form"),
        ({"opset": 13}, "opset"),
        ({"parts": ["decoder"]}, "has no part"),
    ],
)
def test_invalid_arguments(run_dir, arguments, message):
    with pytest.raises(InvalidConfigError, match=message):
        export_run(run_dir, import_modules=IMPORTS, **arguments)


def test_cli_error_is_one_line(tmp_path):
    from zoo.cli import main

    result = CliRunner().invoke(main, ["export", str(tmp_path / "absent")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: export failed: Run folder not found")


def test_cli_export_with_triton(report, run_dir, tmp_path, monkeypatch):
    from zoo.cli import main

    monkeypatch.setattr(export_api, "_run_worker", reuse_onnx_worker(report))
    out_dir = tmp_path / "out"
    arguments = [
        "export", str(run_dir), "--out", str(out_dir), "--part", "embedder",
        "--import-module", "fixture_models", "--triton", str(tmp_path / "models"),
    ]
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 0, result.output
    assert (out_dir / "embedder.onnx").is_file()
    assert (tmp_path / "models" / "embedder" / "config.pbtxt").is_file()
    assert "max abs diff" in result.output

    again = CliRunner().invoke(main, arguments)
    assert again.exit_code == 1
    assert "Error: export failed: The export output already exists" in again.output
    assert len(again.output.strip().splitlines()) == 1
