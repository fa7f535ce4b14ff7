"""Verification, identification, clustering and retrieval on hand-made embeddings."""

import dataclasses

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


def hand_built_open_set_splits():
    # 1-D embeddings, one enrolled photo per identity, so templates are the photos.
    # Split A enrols 0 at 0 and 1 at 10. Mated: 0.5 (label 0, d 0.5), 8 (label 1, d 2),
    # 6 (label 0, but its rank-1 is 1 at d 4: wrong). Non-mated label 2: d 5 and 3.
    # Split B enrols 0 at 0 and 2 at 20. Mated: 21 (label 2, d 1), 4 (label 0, d 4),
    # 10.5 (label 2, d 9.5). Non-mated label 1: d 10 and 4.
    split_a = evaluation.OpenSetSplit(
        gallery=np.array([[0.0], [10.0]]),
        gallery_labels=np.array([0, 1]),
        mated_probes=np.array([[0.5], [8.0], [6.0]]),
        mated_labels=np.array([0, 1, 0]),
        non_mated_probes=np.array([[5.0], [13.0]]),
        non_mated_labels=np.array([2, 2]),
    )
    split_b = evaluation.OpenSetSplit(
        gallery=np.array([[0.0], [20.0]]),
        gallery_labels=np.array([0, 2]),
        mated_probes=np.array([[21.0], [4.0], [10.5]]),
        mated_labels=np.array([2, 0, 2]),
        non_mated_probes=np.array([[10.0], [16.0]]),
        non_mated_labels=np.array([1, 1]),
    )
    return [split_a, split_b]


def test_open_set_counts():
    result = evaluation.open_set_identification(hand_built_open_set_splits(), fpir_targets=(0.5,))

    assert result["splits"] == 2
    assert result["gallery_identities"] == 2.0
    assert result["mated_searches"] == 6
    assert result["non_mated_searches"] == 4


def test_open_set_dir_at_fpir_0_3():
    # Pooled non-mated distances 3, 4, 5, 10: floor(0.3 * 4) = 1 of them may
    # return a candidate, so the threshold is midway between 3 and 4.
    # DIR at 3.5: split A 2/3 (d 0.5 and 2), split B 1/3 (d 1 only).
    result = evaluation.open_set_identification(hand_built_open_set_splits(), fpir_targets=(0.3,))

    assert result["threshold_fpir_3e-1"] == pytest.approx(3.5)
    assert result["fpir_3e-1"] == 0.25
    assert result["dir_fpir_3e-1"] == pytest.approx(0.5)
    assert result["dir_fpir_3e-1_std"] == pytest.approx(1 / 6)
    assert result["dir_fpir_3e-1_min"] == pytest.approx(1 / 3)
    assert result["dir_fpir_3e-1_max"] == pytest.approx(2 / 3)


def test_open_set_dir_at_fpir_0_5():
    # Two of four non-mated searches may pass: threshold 4.5, so d 4 in split B
    # now counts, and the wrong identity in split A still does not.
    result = evaluation.open_set_identification(hand_built_open_set_splits(), fpir_targets=(0.5,))

    assert result["threshold_fpir_5e-1"] == pytest.approx(4.5)
    assert result["fpir_5e-1"] == 0.5
    assert result["dir_fpir_5e-1"] == pytest.approx(2 / 3)
    assert result["dir_fpir_5e-1_std"] == 0.0


def test_open_set_too_few_searches():
    # FPIR 0.2 needs 5 non-mated searches and FPIR 1e-2 needs 100, but there are 4.
    result = evaluation.open_set_identification(hand_built_open_set_splits(), fpir_targets=(0.2, 1e-2))

    assert result["threshold_fpir_2e-1"] is None
    assert result["dir_fpir_2e-1"] is None
    assert "fpir_2e-1" not in result
    assert "dir_fpir_2e-1_std" not in result
    assert result["threshold_fpir_1e-2"] is None
    assert result["dir_fpir_1e-2"] is None


def test_open_set_curve_points():
    result = evaluation.open_set_identification(hand_built_open_set_splits(), fpir_targets=(0.5,))

    # Thresholds 0.5, 1, 2, 3, 4, 5, 9.5, 10 after the starting point.
    np.testing.assert_allclose(result["curve"]["fpir"], [0, 0, 0, 0, 0.25, 0.5, 0.75, 0.75, 1.0])
    np.testing.assert_allclose(result["curve"]["dir"], np.array([0, 1, 2, 3, 3, 4, 4, 5, 5]) / 6)


def test_open_set_rejects_enrolled_non_mated():
    split = hand_built_open_set_splits()[0]
    wrong = dataclasses.replace(split, non_mated_labels=np.array([2, 1]))

    with pytest.raises(InvalidInputError, match="not enrolled"):
        evaluation.open_set_identification([wrong])


def test_open_set_rejects_unenrolled_mated():
    split = hand_built_open_set_splits()[0]
    wrong = dataclasses.replace(split, mated_labels=np.array([0, 1, 5]))

    with pytest.raises(InvalidInputError, match="must be enrolled"):
        evaluation.open_set_identification([wrong])


def test_open_set_rejects_no_splits():
    with pytest.raises(InvalidInputError, match="at least one split"):
        evaluation.open_set_identification([])


def test_threshold_at_fpir_needs_searches():
    assert evaluation.threshold_at_fpir(np.arange(1.0, 100.0), 0.01) is None
    assert evaluation.threshold_at_fpir(np.arange(1.0, 101.0), 0.01) == pytest.approx(1.5)
    assert evaluation.minimum_searches(1e-3) == 1000


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
