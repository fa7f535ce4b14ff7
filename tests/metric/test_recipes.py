"""The triplet recipes end to end with tiny configs: every run-folder file."""

import json

import pytest

from recipes import RECIPES, runner
from zoo.registry import MODELS

pytestmark = pytest.mark.needs_data

TINY_MODEL = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "embedding_dim": 8,
    "widths": [4, 8],
    # Embeds with the first block, so that the path after training is tested with 2 widths.
    "embedding_layer": "block1_pool",
}


def check_run_folder(path, pictures):
    for name in ("model.keras", "config.json", "history.json", "metrics.json"):
        assert (path / name).is_file(), f"{name} is missing"
    for name in pictures:
        assert (path / "pictures" / f"{name}.png").is_file(), f"pictures/{name}.png is missing"
    config = json.loads((path / "config.json").read_text())
    assert config["data"]["train"]["images"] > 0
    history = json.loads((path / "history.json").read_text())
    assert set(history) >= {"loss", "active_triplets", "ap_distance", "an_distance", "embedding_spread"}
    return json.loads((path / "metrics.json").read_text())


def test_triplet_faces_recipe_end_to_end(tmp_path, orl_dir):
    overrides = dict(TINY_MODEL, data_dir=str(orl_dir), p=4, k=2, validation_folds=2)

    run = runner.train("triplet-faces-cnn", overrides, out_dir=tmp_path / "run")

    metrics = check_run_folder(run.path, ("training_curves", "projection", "roc", "distances", "open_set"))
    history = json.loads((run.path / "history.json").read_text())
    assert 0.0 <= history["class_accuracy"][0] <= 1.0
    validation = json.loads((run.path / "validation.json").read_text())
    assert len(validation["folds"]) == 2
    assert sorted(sum(validation["fold_people"], [])) == sorted(f"s{n}" for n in range(1, 31))
    for key in ("auc", "rank_1", "tar_far_1e-2"):
        values = [fold[key] for fold in validation["folds"]]
        assert validation["mean"][key] == pytest.approx(sum(values) / 2)
        assert validation["std"][key] == pytest.approx(abs(values[0] - values[1]) / 2)
        assert metrics["cross_validation"][f"{key}_mean"] == validation["mean"][key]
    assert metrics["cross_validation"]["folds"] == 2
    for key in ("auc", "rank_1", "rank_5", "tar_far_1e-2", "threshold_far_1e-2", "threshold_far_1e-3",
                "open_set", "nmi", "ari"):
        assert key in metrics, f"metrics.json has no {key}"
    assert 0.5 < metrics["eigenfaces"]["auc"] <= 1.0
    # 5 splits of s31-s40: each person's 10 photos are non-mated searches once,
    # and the 7 probes of each person are mated searches in the 4 other splits.
    for open_set in (metrics["open_set"], metrics["eigenfaces"]["open_set"]):
        assert open_set["non_mated_searches"] == 100
        assert open_set["mated_searches"] == 280
        assert open_set["gallery_identities"] == 38.0
        assert open_set["fpir_1e-2"] <= 0.01
        assert 0.0 <= open_set["dir_fpir_1e-2_min"] <= open_set["dir_fpir_1e-2"] <= open_set["dir_fpir_1e-2_max"]
        assert open_set["threshold_fpir_1e-3"] is None, "100 non-mated searches cannot measure FPIR 1e-3"
    assert metrics["eigenfaces"]["open_set"]["dir_fpir_1e-2"] > 0.4
    assert metrics["threshold_far_1e-3"] <= metrics["threshold_far_1e-2"]
    assert metrics["goals_met"]["auc"] is False, "a 2-step run cannot reach the release goal"
    # The saved model has no CosFace head but records the triplet weight it trained with.
    model = run.load_model()
    assert model.num_classes == 0
    assert model.triplet_weight == pytest.approx(0.1)


# Loading Fashion-MNIST and scoring 5,000 test images takes most of a
# minute on 2 cores, so this runs with the slow tests only.
@pytest.mark.slow
def test_triplet_fashion_recipe_end_to_end(tmp_path, fashion_dir):
    overrides = dict(TINY_MODEL, data_dir=str(fashion_dir), p=5, k=2)

    run = runner.train("triplet-fashion", overrides, out_dir=tmp_path / "run")

    metrics = check_run_folder(run.path, ("training_curves", "projection"))
    assert 0.0 < metrics["recall_at_1"] <= metrics["recall_at_5"] <= 1.0
    assert metrics["pca"]["recall_at_1"] > 0.8


def test_triplet_entries_registered():
    assert RECIPES["triplet-faces"][0] == "recipes.triplet:TRIPLET_FACES"
    assert RECIPES["triplet-fashion"][0] == "recipes.triplet:TRIPLET_FASHION"
    assert MODELS["TripletModel"][0] == "zoo.metric:TripletModel"
    assert runner.get_recipe("triplet-faces").name == "triplet-faces"
