"""Cross-validation folds over the training people of triplet-faces."""

import numpy as np
import pytest

from recipes.triplet import FACES_CNN_DEFAULTS, check_local_patterns, check_loss_settings, validation_folds
from recipes.triplet_evaluation import _cross_validation
from zoo.errors import InvalidConfigError

pytestmark = pytest.mark.backend_agnostic


@pytest.mark.parametrize("folds", [1, -2, 16, 4])
def test_validation_folds_rejects_bad_counts(folds):
    # 16 folds leave groups of 1 person; 4 folds leave 22 people, fewer than p=24.
    with pytest.raises(InvalidConfigError, match=f"validation_folds={folds}"):
        validation_folds(np.arange(30), folds, p=24, seed=0)


def test_validation_folds_partition_people():
    folds = validation_folds(np.arange(30), 5, p=24, seed=3)

    assert [len(fold) for fold in folds] == [6] * 5
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(30))
    assert validation_folds(np.arange(30), 0, p=24, seed=3) == []


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"classification_weight": -1.0}, "classification_weight"),
        ({"classification_weight": float("nan")}, "classification_weight"),
        ({"triplet_weight": float("inf")}, "triplet_weight"),
        ({"triplet_weight": 0.0, "classification_weight": 0.0}, "both 0"),
        ({"classification_margin": -1.0}, "classification_margin"),
        ({"classification_scale": 0.0}, "classification_scale"),
    ],
)
def test_loss_settings_rejected(settings, name):
    with pytest.raises(InvalidConfigError, match=name) as error:
        check_loss_settings(dict(FACES_CNN_DEFAULTS, **settings))

    assert "Received" in str(error.value)


def test_loss_settings_ignore_head_when_off():
    # With classification_weight 0 the CosFace settings are unused.
    check_loss_settings(dict(FACES_CNN_DEFAULTS, classification_weight=0.0, classification_margin=-1.0))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"local_patterns_weight": -1.0}, "local_patterns_weight=-1.0"),
        ({"local_patterns_weight": float("nan")}, "local_patterns_weight=nan"),
        ({"local_patterns_weight": "1"}, "local_patterns_weight='1'"),
        ({"local_patterns_weight": None}, "local_patterns_weight=None"),
        ({"local_patterns_grid": [7, 0]}, "grid=\\(7, 0\\)"),
        ({"local_patterns_components": 0}, "local_patterns_components=0"),
        ({"local_patterns_grid": 7}, "local_patterns_grid=7"),
        # A 1 x 1 grid gives 59 histogram values, fewer than the 150 default components.
        (
            {"local_patterns_grid": [1, 1]},
            "local_patterns_components=150 for local_patterns_grid=\\[1, 1\\].*Received: 59",
        ),
    ],
)
def test_local_pattern_settings_rejected(settings, message):
    with pytest.raises(InvalidConfigError, match=message):
        check_local_patterns(dict(FACES_CNN_DEFAULTS, **settings))


def test_local_pattern_grid_larger_than_images():
    config = dict(FACES_CNN_DEFAULTS, local_patterns_grid=[200, 3])
    check_local_patterns(config)

    with pytest.raises(InvalidConfigError, match="local_patterns_grid=\\[200, 3\\].*at least 202 x 5"):
        check_local_patterns(config, image_shape=(112, 92, 1))


def test_local_pattern_settings_off():
    # With weight 0 the descriptor is left out, so its other settings are unused.
    check_local_patterns(dict(FACES_CNN_DEFAULTS, local_patterns_weight=0.0, local_patterns_components=0))


def test_cross_validation_skips_single_split_file():
    old_file = {"auc": 0.9, "rank_1": 0.8}

    assert _cross_validation(old_file, "run") == {}


def test_cross_validation_copies_mean_and_std():
    scores = {"auc": 0.9, "tar_far_1e-2": 0.5, "tar_far_1e-3": 0.3, "rank_1": 0.8, "rank_5": 0.95}
    spread = {key: 0.01 for key in scores}

    summary = _cross_validation({"folds": [scores, scores], "mean": scores, "std": spread}, "run")

    assert summary["cross_validation"]["folds"] == 2
    assert summary["cross_validation"]["auc_mean"] == 0.9
    assert summary["cross_validation"]["rank_5_std"] == 0.01
