"""Quantized exports record the change in the recipe's own metric on held-out data.

The end-to-end tests train `triplet-faces` for two steps, run
`zoo export --quantize int8` and compare the recorded verification
figures with the recipe's `metrics.json`. A tiny `gan-fashion` run with a
tiny `classifier-fashion` run checks the generators' FID and class
coverage. What they check depends only on the exported files and the
recipe's data, so they run in one backend pass.
"""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from export import api as export_api
from export.metric_change import artifact_predictor, metric_change, record_metric_changes
from recipes import runner
from recipes.artifact_metrics import artifact_scorer, generator_samples

pytestmark = pytest.mark.backend_agnostic

TINY_FACES = {
    "epochs": 1, "steps_per_epoch": 2, "embedding_dim": 8, "widths": [4, 8], "p": 4, "k": 2,
    "embedding_layer": "block1_pool", "local_patterns_weight": 1.0,
}

# People s31-s40 give 450 same-person and 4500 different-person pairs. One
# pair whose order flips between Keras and the float32 file moves the AUC
# by 1 / (450 * 4500), about 5e-7; the tolerance allows 20 such pairs.
AUC_TOLERANCE = 1e-5
# One same-person pair crossing the threshold moves the TAR by 1 / 450.
TAR_TOLERANCE = 1 / 450 + 1e-9

# In one run (TensorFlow 2.21, onnxruntime 1.31, 2 CPU cores), dynamic int8
# quantization of the tiny embedder moved the AUC by 0.0013 and the TAR at FAR 1e-2 by 0.0022.
INT8_AUC_CHANGE_LIMIT = 0.01
INT8_TAR_CHANGE_LIMIT = 0.05

# Three epochs, as in the GAN recipe tests. After one epoch the features
# barely varied, and the FID of tiny DCGAN samples was 0.01.
TINY_CLASSIFIER = {
    "epochs": 3, "batch_size": 64, "filters": 8, "feature_dim": 16, "learning_rate": 3e-3,
    "train_limit": 1024, "test_limit": 256,
}
# The fully connected generator: dynamic int8 quantizes all its MatMuls,
# but not the DCGAN's transposed convolutions. 300 samples keep the 16 x 16
# feature covariance full rank.
TINY_GAN = {
    "epochs": 1, "batch_size": 64, "latent_dim": 16, "train_limit": 128, "reference_limit": 400, "num_samples": 300,
}
# FID of Keras samples against that of the float32 file's samples, whose
# images differ by at most the export's float32 tolerance of 1e-5.
KERAS_FID_TOLERANCE = 1e-3
# In one run (TensorFlow 2.21, onnxruntime 1.31), int8 moved the images by
# up to 0.004 and the FID of 1.70 by 3e-5. The tiny classifier put every
# sample in one class, so the coverage was 0 for both files.
INT8_FID_RELATIVE_LIMIT = 0.01
INT8_COVERAGE_CHANGE_LIMIT = 0.05


@pytest.fixture(scope="module")
def faces_export(tmp_path_factory, orl_dir):
    from zoo.cli import main

    run = runner.train("triplet-faces-cnn", {**TINY_FACES, "data_dir": str(orl_dir)},
                       out_dir=tmp_path_factory.mktemp("faces") / "run")
    result = CliRunner().invoke(main, ["export", str(run.path), "--quantize", "int8"])
    assert result.exit_code == 0, result.output

    metrics = json.loads((run.path / "metrics.json").read_text())
    report = json.loads((run.path / "export" / "export_report.json").read_text())
    int8 = report["formats"]["onnx"]["parts"]["embedder"]["artifacts"][1]
    return metrics, int8, result.output, run.path


@pytest.mark.needs_data
def test_float32_metric_matches_evaluation(faces_export):
    metrics, int8, _, _ = faces_export

    recorded = int8["metric_change"]["metrics"]

    assert recorded["auc"]["float32"] == pytest.approx(metrics["auc"], abs=AUC_TOLERANCE)
    assert recorded["tar_far_1e-2"]["float32"] == pytest.approx(metrics["tar_far_1e-2"], abs=TAR_TOLERANCE)


@pytest.mark.needs_data
def test_int8_metric_change_is_small(faces_export):
    _, int8, _, _ = faces_export

    change = int8["metric_change"]

    assert int8["quantize"] == "int8"
    assert change["data"].startswith("ORL people s31-s40")
    assert "100 photos" in change["data"]
    for name, limit in (("auc", INT8_AUC_CHANGE_LIMIT), ("tar_far_1e-2", INT8_TAR_CHANGE_LIMIT)):
        value = change["metrics"][name]
        assert value["change"] == pytest.approx(value["quantized"] - value["float32"])
        assert abs(value["change"]) <= limit, f"{name} moved by {value['change']}"


@pytest.mark.needs_data
def test_cli_prints_metric_change(faces_export):
    _, int8, output, _ = faces_export

    line = next(line for line in output.splitlines() if "embedder.int8.onnx" in line and " auc " in line)

    assert f"{int8['metric_change']['metrics']['auc']['float32']:.6g} ->" in line
    assert "on ORL people s31-s40" in line


@pytest.mark.needs_data
def test_release_carries_metric_change(faces_export, tmp_path, monkeypatch):
    from zoo.cli import main

    _, int8, _, run_path = faces_export
    float32_file = run_path / "export" / "embedder.onnx"

    # Reuse the exported float32 file instead of a second conversion subprocess.
    def reuse_worker(work_dir, *args, **kwargs):
        shutil.copyfile(float32_file, work_dir / "embedder.onnx")
        artifacts = {"onnx": [{"file": "embedder.onnx", "quantize": None}]}
        return {"embedder": {"inputs": ["images"], "outputs": ["embeddings"], "artifacts": artifacts}}

    monkeypatch.setattr(export_api, "_run_worker", reuse_worker)
    monkeypatch.chdir(tmp_path)
    arguments = [
        "release", str(run_path), "--name", "faces-int8", "--part", "embedder",
        "--description", "A two-step face embedder.", "--quantize", "int8",
    ]
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "artifacts" / "manifest.json").read_text())
    entry = manifest["artifacts"][0]
    assert [item["path"] for item in entry["files"]] == ["faces-int8/embedder.onnx", "faces-int8/embedder.int8.onnx"]
    assert entry["files"][1]["quantize"] == "int8"
    assert entry["files"][1]["metric_change"]["metrics"] == int8["metric_change"]["metrics"]
    assert entry["parity_max_abs_diff"] < 1e-5


def test_autoencoder_scorer_needs_both_parts(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "ae-fashion", "config": {}}))
    scorer = artifact_scorer(tmp_path)

    result = scorer("encoder", {"encoder": lambda feed: {"z": feed["images"]}})

    assert "['decoder'] were not exported" in result["skipped"]


@pytest.fixture(scope="module")
def gan_export(tmp_path_factory, fashion_dir):
    root = tmp_path_factory.mktemp("gan")
    classifier = runner.train(
        "classifier-fashion", {**TINY_CLASSIFIER, "data_path": str(fashion_dir)}, root / "classifier"
    )
    config = {**TINY_GAN, "classifier_run": str(classifier.path), "data_path": str(fashion_dir)}
    gan = runner.train("gan-fashion", config, root / "gan", evaluate=False)

    report = export_api.export_run(
        gan.path, "onnx", parts=["generator"], quantize="int8", score_artifact=artifact_scorer(gan.path)
    )
    float32, int8 = report["formats"]["onnx"]["parts"]["generator"]["artifacts"]
    return gan, classifier, float32, int8


def _recipe_scorer(classifier, fashion_dir):
    from recipes import gan_eval
    from recipes.data import load_fashion_mnist

    reference = load_fashion_mnist(str(fashion_dir), split="test").images[: TINY_GAN["reference_limit"]]
    return gan_eval.FeatureScorer(classifier.path, reference)


@pytest.mark.needs_data
def test_generator_float32_fid_matches_recipe(gan_export, fashion_dir):
    from zoo import latent

    gan, classifier, float32, int8 = gan_export
    recorded = int8["metric_change"]["metrics"]
    scorer = _recipe_scorer(classifier, fashion_dir)
    # The first latents of the recipe's evaluation, which seeds them with seed + 1.
    z = latent.sample_prior(TINY_GAN["num_samples"], TINY_GAN["latent_dim"], seed=1)

    onnx_scores = scorer.score(generator_samples(artifact_predictor(float32["path"], "onnx"), z, "gan-fashion"))
    part = gan.load_model().exportable_parts()["generator"]
    keras_scores = scorer.score(latent.decode(part.model, z))

    assert recorded["fid"]["float32"] == pytest.approx(onnx_scores["fid"], rel=1e-6)
    assert recorded["class_coverage"]["float32"] == pytest.approx(onnx_scores["class_coverage"], rel=1e-6)
    assert recorded["fid"]["float32"] == pytest.approx(keras_scores["fid"], rel=KERAS_FID_TOLERANCE)


@pytest.mark.needs_data
def test_generator_int8_change_is_small(gan_export):
    _, classifier, _, int8 = gan_export
    change = int8["metric_change"]
    fid = change["metrics"]["fid"]
    coverage = change["metrics"]["class_coverage"]

    assert change["data"].startswith("300 samples from the same fixed z (seed 1) for both files")
    assert str(classifier.path) in change["data"]
    assert fid["change"] == pytest.approx(fid["quantized"] - fid["float32"])
    # The int8 file moves the images, so an unchanged FID means it was not scored.
    assert fid["quantized"] != fid["float32"]
    assert abs(fid["change"]) <= INT8_FID_RELATIVE_LIMIT * fid["float32"], f"FID moved by {fid['change']}"
    assert abs(coverage["change"]) <= INT8_COVERAGE_CHANGE_LIMIT, f"coverage moved by {coverage['change']}"


def test_generator_without_classifier_records_reason(tmp_path):
    config = {"classifier_run": str(tmp_path / "no-classifier"), "latent_dim": 4}
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "dcgan-fashion", "config": config}))
    scorer = artifact_scorer(tmp_path)

    result = scorer("generator", {"generator": lambda feed: {"images": feed["z"]}})

    assert "no-classifier has no model.keras" in result["skipped"]
    assert "zoo train classifier-fashion" in result["skipped"]


def test_faces_generator_records_reason(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "stylegan-faces", "config": {}}))
    scorer = artifact_scorer(tmp_path)

    result = scorer("generator", {})

    assert "no domain classifier" in result["skipped"]


def test_metric_change_subtracts_float32():
    def scorer(part, predictors):
        value = predictors[part]({"x": np.ones(2)})["y"].sum()
        return {"data": "two ones", "metrics": {"total": value}}

    float32 = {"part": lambda feed: {"y": feed["x"] * 2.0}}
    quantized = {"part": lambda feed: {"y": feed["x"] * 1.5}}

    change = metric_change(scorer, "part", float32, quantized)

    assert change["data"] == "two ones"
    assert change["metrics"]["total"] == {"float32": 4.0, "quantized": 3.0, "change": -1.0}


def test_scorer_contract_violation_raises():
    predictors = {"part": lambda feed: feed}

    with pytest.raises(TypeError, match="Expected"):
        metric_change(lambda part, predictors: {"auc": 0.5}, "part", predictors, predictors)


def test_missing_scorer_is_recorded():
    entry = {"path": "part.int8.onnx", "quantize": "int8"}
    reports = {"onnx": {"quantize": "int8", "parts": {"part": {"artifacts": [{"path": "part.onnx"}, entry]}}}}

    record_metric_changes(reports, None)

    assert "no scorer was given" in entry["metric_change"]["skipped"]
