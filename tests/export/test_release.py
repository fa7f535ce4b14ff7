"""`release_run`: export, manifest entry, card, and a pull of the result."""

import hashlib
import json

import pytest

import fixture_models
from export.cards import check_card
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
