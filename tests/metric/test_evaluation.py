"""Verification, identification, clustering and retrieval on hand-made embeddings."""

import numpy as np
import pytest

from zoo.errors import InvalidInputError
from zoo.metric import evaluation

pytestmark = pytest.mark.backend_agnostic


def test_verification_separated_points():
    # Pairs: (0,1) d=1 same, (2,3) d=1 same; different pairs d = 9, 10, 10, 11.
    embeddings = np.array([[0.0], [1.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1])

    result = evaluation.verification(embeddings, labels, far_targets=(0.25, 0.01))

    assert result["auc"] == 1.0
    assert result["eer"] == 0.0
    assert result["pairs_same"] == 2
    assert result["pairs_different"] == 4
    # One of four negatives may pass at FAR 0.25: midway between 9 and 10.
    assert result[f"threshold_far_{evaluation.far_key(0.25)}"] == pytest.approx(9.5)
    assert result["threshold_far_1e-2"] < 9.0
    assert result["tar_far_1e-2"] == 1.0


def test_verification_overlapping_auc():
    # Same pairs at distances 5 and 1; different pairs at 3, 4, 2, 1.
    # AUC = P(same closer than different), ties half: (0 + 3.5) / 8.
    embeddings = np.array([[0.0], [5.0], [3.0], [4.0]])
    labels = np.array([0, 0, 1, 1])

    result = evaluation.verification(embeddings, labels, far_targets=(0.5,))

    assert result["auc"] == pytest.approx(0.4375)
    # Two of four negatives (1 and 2) may pass: threshold 2.5, TAR 1/2.
    assert result["threshold_far_5e-1"] == pytest.approx(2.5)
    assert result["tar_far_5e-1"] == 0.5


def test_threshold_at_far_counts():
    negatives = np.arange(1.0, 101.0)

    assert evaluation.threshold_at_far(negatives, 0.01) == pytest.approx(1.5)
    assert evaluation.threshold_at_far(negatives, 0.05) == pytest.approx(5.5)
    assert evaluation.threshold_at_far(negatives, 0.001) < 1.0


def test_far_key_format():
    assert evaluation.far_key(1e-2) == "1e-2"
    assert evaluation.far_key(1e-3) == "1e-3"


def test_identification_ranks():
    # Templates at 0, 10, 20 on a line; probes at 1 (label 0), 12 (label 2), 19 (label 2).
    gallery = np.array([[0.0], [0.0], [10.0], [20.0]])
    gallery_labels = np.array([0, 0, 1, 2])
    probes = np.array([[1.0], [12.0], [19.0]])
    probe_labels = np.array([0, 2, 2])

    result = evaluation.identification(gallery, gallery_labels, probes, probe_labels, ranks=(1, 2))

    assert result["rank_1"] == pytest.approx(2 / 3)
    assert result["rank_2"] == 1.0


def test_identification_requires_enrolled_probes():
    with pytest.raises(InvalidInputError, match="enrolled"):
        evaluation.identification(np.zeros((1, 2)), np.array([0]), np.zeros((1, 2)), np.array([5]))


def test_gallery_mean_templates_renormalised():
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = np.array([0, 0, 1])

    templates, template_labels = evaluation.gallery_templates(embeddings, labels)

    np.testing.assert_allclose(templates, [[np.sqrt(0.5), np.sqrt(0.5)], [1.0, 0.0]])
    assert template_labels.tolist() == [0, 1]


def test_open_set_accepts_and_rejects():
    gallery = np.array([[0.0], [10.0]])
    gallery_labels = np.array([0, 1])
    # Known probes: 0.5 (label 0, accepted, right), 9.5 (label 1, accepted, right),
    # 3 (label 1, nearest is 0 at distance 3 > 2: rejected). Unknown: 5 (rejected), 11 (accepted).
    probes = np.array([[0.5], [9.5], [3.0], [5.0], [11.0]])
    probe_labels = np.array([0, 1, 1, 7, 8])

    result = evaluation.open_set(gallery, gallery_labels, probes, probe_labels, threshold=2.0)

    assert result["detection_identification_rate"] == pytest.approx(2 / 3)
    assert result["false_accept_rate"] == 0.5
    assert result["known_probes"] == 3
    assert result["unknown_probes"] == 2


def test_clustering_of_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 10)
    embeddings = centres[labels] + rng.normal(scale=0.1, size=(30, 2))

    result = evaluation.clustering(embeddings, labels)

    assert result["nmi"] == pytest.approx(1.0)
    assert result["ari"] == pytest.approx(1.0)


def test_recall_at_k():
    # Nearest neighbours: 0 -> 1 (hit), 1 -> 2 (miss), 2 -> 1 (miss), 3 -> 2 (hit).
    # Second-nearest: 1 -> 0 and 2 -> 3, both hits.
    embeddings = np.array([[0.0], [1.0], [1.6], [2.5]])
    labels = np.array([0, 0, 1, 1])

    result = evaluation.recall_at_k(embeddings, labels, ks=(1, 2))

    assert result["recall_at_1"] == 0.5
    assert result["recall_at_2"] == 1.0


def test_eigenfaces_halves_images():
    rng = np.random.default_rng(0)
    images = rng.random((20, 8, 6, 1))

    embed = evaluation.eigenfaces(images, components=5, size=(4, 3))

    assert embed(images[:3]).shape == (3, 5)
    features = evaluation.pixel_features(images[:1], size=(4, 3))
    assert features[0, 0] == pytest.approx(images[0, :2, :2, 0].mean())
