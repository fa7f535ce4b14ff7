"""NMI and ARI against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from zoo.cluster import adjusted_rand_index, normalized_mutual_info
from zoo.errors import InvalidInputError

pytestmark = pytest.mark.backend_agnostic


def _labelings():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 10, size=1000)
    noisy = np.where(rng.random(1000) < 0.3, rng.integers(0, 10, size=1000), true)
    return [
        (true, noisy),
        (true, rng.integers(0, 7, size=1000)),
        (true, (true + 3) % 10),
        (np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])),
        (np.array([0, 0, 0]), np.array([5, 5, 5])),
        (np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1])),
        (np.array(["a", "b", "b", "c", "a"]), np.array([2, 1, 1, 0, 0])),
        (rng.integers(0, 3, size=50_000), rng.integers(0, 40, size=50_000)),
    ]


@pytest.mark.parametrize("case", range(8))
def test_nmi_matches_sklearn(case):
    true, pred = _labelings()[case]

    assert normalized_mutual_info(true, pred) == pytest.approx(
        normalized_mutual_info_score(true, pred), abs=1e-10
    )


@pytest.mark.parametrize("case", range(8))
def test_ari_matches_sklearn(case):
    true, pred = _labelings()[case]

    assert adjusted_rand_index(true, pred) == pytest.approx(
        adjusted_rand_score(true, pred), abs=1e-10
    )


def test_scores_of_identical_partitions_are_one():
    labels = np.array([3, 3, 1, 1, 2])

    assert normalized_mutual_info(labels, labels + 10) == pytest.approx(1.0)
    assert adjusted_rand_index(labels, labels + 10) == 1.0


def test_scores_reject_bad_labelings():
    with pytest.raises(InvalidInputError, match="equal length"):
        normalized_mutual_info([0, 1], [0, 1, 1])
    with pytest.raises(InvalidInputError, match="1-D"):
        adjusted_rand_index(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match="non-empty"):
        adjusted_rand_index([], [])
