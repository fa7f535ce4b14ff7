"""`release_run`: export, manifest entry, card, and a pull of the result."""

import hashlib
import json
import pathlib
import shutil

import pytest

import fixture_models
from export.cards import check_card
from export import api as export_api
from export.release import release_run
from serving import hub

pytestmark = pytest.mark.backend_agnostic

METRICS = {"rank_1": 0.75, "auc": 0.9125, "threshold_far_1e-2": 0.61, "eigenfaces": {"rank_1": 0.5}}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    run_dir = fixture_models.make_run_folder(tmp_path_factory.mktemp("run") / "run")
    (run_dir / "metrics.json").write_text(json.dumps(METRICS))
    repo_root = tmp_path_factory.mktemp("repo")
    entry = release_run(
        run_dir, "fixture-embedder", ["embedder"], "A test embedder.", repo_root=repo_root,
        import_modules=["fixture_models"],
    )
    return repo_root, entry


def test_release_writes_manifest_entry(released):
    repo_root, entry = released
    manifest = json.loads((repo_root / "artifacts" / "manifest.json").read_text())
    model_file = repo_root / "artifacts" / "fixture-embedder" / "embedder.onnx"

    assert [item["name"] for item in manifest["artifacts"]] == ["fixture-embedder"]
    assert entry["task"] == "embedder"
    assert entry["files"][0]["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert entry["files"][0]["size"] == model_file.stat().st_size
    assert entry["files"][0]["quantize"] is None
    assert entry["inputs"][0]["name"] == "images"
    assert entry["inputs"][0]["shape"] == [None, *fixture_models.IMAGE_SHAPE]
    assert entry["metrics"] == {"rank_1": 0.75, "auc": 0.9125}
    assert entry["parity_max_abs_diff"] < 1e-5


def test_release_embeds_thresholds(released):
    import onnx

    repo_root, _ = released
    model = onnx.load(repo_root / "artifacts" / "fixture-embedder" / "embedder.onnx")
    metadata = {prop.key: prop.value for prop in model.metadata_props}

    assert float(metadata["threshold_far_1e-2"]) == 0.61
    assert metadata["zoo_task"] == "embedder"


def test_release_card_matches_metrics(released):
    repo_root, entry = released
    card = repo_root / entry["model_card"]
    metrics = repo_root / "artifacts" / "fixture-embedder" / "metrics.json"

    assert json.loads(metrics.read_text()) == METRICS
    assert check_card(card, metrics) == []


def test_released_artifact_pulls_by_name(released, tmp_path):
    repo_root, entry = released
    path = hub.pull(
        "fixture-embedder",
        manifest=repo_root / "artifacts" / "manifest.json",
        cache_dir=tmp_path / "cache",
        progress=False,
    )

    assert path.name == "embedder.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["files"][0]["sha256"]


def _reusing_export(float32_file):
    """Return an `export_run` stand-in that copies `float32_file` instead of converting the run."""

    def export_run(run_dir, format, parts, out_dir, quantize=None, **kwargs):
        artifacts = [{"path": f"{out_dir}/embedder.onnx", "quantize": None,
                      "parity": {"max_abs_diff": {"embeddings": 0.0}}}]
        shutil.copyfile(float32_file, f"{out_dir}/embedder.onnx")
        if quantize is not None:
            shutil.copyfile(float32_file, f"{out_dir}/embedder.{quantize}.onnx")
            artifacts.append({"path": f"{out_dir}/embedder.{quantize}.onnx", "quantize": quantize,
                              "parity": {"max_abs_diff": {"embeddings": 0.5}},
                              "metric_change": {"skipped": "not measured in this test"}})
        return {"formats": {"onnx": {"quantize": quantize, "parts": {"embedder": {"artifacts": artifacts}}}}}

    return export_run


def test_release_removes_stale_quantized_copy(released, tmp_path, monkeypatch):
    released_root, _ = released
    monkeypatch.setattr(export_api, "export_run", _reusing_export(
        released_root / "artifacts" / "fixture-embedder" / "embedder.onnx"
    ))
    run_dir = fixture_models.make_run_folder(tmp_path / "run")
    (run_dir / "metrics.json").write_text(json.dumps(METRICS))
    repo_root = tmp_path / "repo"
    folder = repo_root / "artifacts" / "stale-test"
    arguments = (run_dir, "stale-test", ["embedder"], "A test embedder.")

    quantized = release_run(*arguments, repo_root=repo_root, quantize="int8")
    # A file of another part must survive the release of this one.
    (folder / "decoder.int8.onnx").write_bytes(b"another part")
    plain = release_run(*arguments, repo_root=repo_root)
    manifest = json.loads((repo_root / "artifacts" / "manifest.json").read_text())

    assert [item["quantize"] for item in quantized["files"]] == [None, "int8"]
    assert [item["path"] for item in plain["files"]] == ["stale-test/embedder.onnx"]
    assert manifest["artifacts"][0]["files"] == plain["files"]
    assert (folder / "embedder.onnx").is_file()
    assert not (folder / "embedder.int8.onnx").exists()
    assert (folder / "decoder.int8.onnx").is_file()


def test_headline_metrics_nested_sections():
    from export.release import headline_metrics

    pix2pix = {"test": {"l1": 0.12, "ssim": 0.33, "pairs": 2000}}
    gan = {"generator": {"fid": 125.0, "kid": 34.7, "class_coverage": 0.99}, "other_runs": {"fid": 1.0}}
    embedder = {"rank_1": 0.75, "eigenfaces": {"rank_1": 0.5}}

    assert headline_metrics("translator", pix2pix, ["generator"]) == {"test": {"l1": 0.12, "ssim": 0.33}}
    assert headline_metrics("generator", gan, ["generator"]) == {"generator": {"fid": 125.0, "kid": 34.7, "class_coverage": 0.99}}
    assert headline_metrics("embedder", embedder, ["embedder"]) == {"rank_1": 0.75}


def test_headline_metrics_per_psi():
    from export.release import headline_metrics

    stylegan = {"generator": {"psi_1.0": {"fid": 120.0, "kid": 30.0}, "psi_0.7": {"fid": 110.0, "class_coverage": 0.9}}}

    assert headline_metrics("generator", stylegan, ["generator", "mapping", "synthesis"]) == {
        "generator": {"psi_1.0": {"fid": 120.0, "kid": 30.0}, "psi_0.7": {"fid": 110.0, "class_coverage": 0.9}}
    }


def test_artifact_task_of_parts():
    from export.release import artifact_task

    assert artifact_task({"embedder": "embedder"}) == "embedder"
    assert artifact_task({"decoder": "decoder", "encoder": "encoder"}) == "autoencoder"
    assert artifact_task({"generator": "generator", "mapping": "mapping", "synthesis": "synthesis"}) == "generator"
    assert artifact_task({"embedder": "embedder", "generator": "generator"}) == "embedder+generator"


def test_checked_in_manifest_tasks_and_metrics():
    manifest = json.loads((pathlib.Path(__file__).resolve().parents[2] / "artifacts" / "manifest.json").read_text())
    entries = {entry["name"]: entry for entry in manifest["artifacts"]}

    assert entries["autoencoder-fashion-mnist"]["task"] == "autoencoder"
    assert entries["autoencoder-fashion-mnist"]["part_tasks"] == {"decoder": "decoder", "encoder": "encoder"}
    assert set(entries["pix2pix-edges-fashion-mnist"]["metrics"]["test"]) == {"l1", "ssim"}
