"""K-means on the active backend against scikit-learn's KMeans."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs

from zoo.cluster import KMeans, adjusted_rand_index
from zoo.errors import InvalidConfigError, InvalidInputError


def _blobs(separation):
    points, labels = make_blobs(
        n_samples=600, centers=6, n_features=5, cluster_std=separation, random_state=3
    )
    return points.astype("float32"), labels


def test_kmeans_separated_blobs_recovered():
    points, labels = _blobs(separation=0.5)

    model = KMeans(n_clusters=6, n_init=3, seed=0).fit(points)

    assert adjusted_rand_index(labels, model.labels_) == pytest.approx(1.0)
    assert model.cluster_centers_.shape == (6, 5)
    assert model.labels_.dtype == np.int64


@pytest.mark.parametrize("separation", [2.0, 4.0])
def test_kmeans_inertia_matches_sklearn(separation):
    points, _ = _blobs(separation)

    ours = KMeans(n_clusters=6, n_init=10, seed=0).fit(points)
    reference = SklearnKMeans(n_clusters=6, n_init=10, random_state=0).fit(points)

    assert ours.inertia_ <= reference.inertia_ * 1.01
    assert ours.inertia_ >= reference.inertia_ * 0.99


def test_kmeans_inertia_is_sum_of_squared_distances():
    points, _ = _blobs(separation=3.0)

    model = KMeans(n_clusters=4, n_init=2, seed=1).fit(points)

    residuals = points.astype("float64") - model.cluster_centers_[model.labels_]
    assert model.inertia_ == pytest.approx(np.sum(residuals**2), rel=1e-6)


def test_kmeans_predict_matches_fit_labels():
    points, _ = _blobs(separation=2.0)

    model = KMeans(n_clusters=6, n_init=2, seed=0).fit(points)

    np.testing.assert_array_equal(model.predict(points), model.labels_)


def test_kmeans_seed_is_deterministic():
    points, _ = _blobs(separation=4.0)

    first = KMeans(n_clusters=5, n_init=2, seed=5).fit(points)
    second = KMeans(n_clusters=5, n_init=2, seed=5).fit(points)

    np.testing.assert_array_equal(first.labels_, second.labels_)
    assert first.inertia_ == second.inertia_


def test_kmeans_duplicate_points_give_zero_inertia():
    points = np.repeat(np.eye(3, dtype="float32"), 4, axis=0)

    model = KMeans(n_clusters=3, n_init=2, seed=0).fit(points)

    assert model.inertia_ == pytest.approx(0.0, abs=1e-6)


def test_kmeans_rejects_bad_input():
    model = KMeans(n_clusters=3)

    with pytest.raises(InvalidInputError, match="n_samples, n_features"):
        model.fit(np.zeros(10, "float32"))
    with pytest.raises(InvalidInputError, match="at least n_clusters=3"):
        model.fit(np.zeros((2, 4), "float32"))
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        model.fit(np.array([[0.0], [np.nan], [1.0]], "float32"))
    with pytest.raises(InvalidConfigError, match="before fit"):
        model.predict(np.zeros((2, 4), "float32"))
    with pytest.raises(InvalidConfigError, match="n_clusters"):
        KMeans(n_clusters=0)

    model.fit(np.random.default_rng(0).normal(size=(20, 4)).astype("float32"))
    with pytest.raises(InvalidInputError, match="expects 4 features"):
        model.predict(np.zeros((2, 3), "float32"))
