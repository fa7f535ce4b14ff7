"""K-means written with `keras.ops`, so that it runs on every backend.

The seeding is greedy k-means++ (Arthur and Vassilvitskii, 2007, with the
`2 + log(k)` local trials that scikit-learn uses) drawn with a seeded NumPy
generator. The Lloyd iterations run in `keras.ops` on the active backend.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.errors import InvalidConfigError, InvalidInputError


class KMeans:
    """K-means clustering with k-means++ seeding and several restarts.

    Args:
        n_clusters: the number of clusters k, at least 1.
        n_init: how many seedings to run; the run with the lowest inertia
            is kept.
        max_iter: the maximum number of Lloyd iterations per run.
        tol: convergence tolerance on the squared shift of the centers,
            relative to the mean per-feature variance of the data (the
            scikit-learn convention).
        seed: the seed of the NumPy generator that draws the seedings.

    Attributes:
        cluster_centers_: float32 array of shape (k, d) after `fit`.
        labels_: int64 array of shape (n,), the cluster of each sample.
        inertia_: the sum of squared distances of the samples to their
            closest center, a Python float.
        n_iter_: the number of Lloyd iterations of the kept run.
    """

    def __init__(self, n_clusters, n_init=10, max_iter=100, tol=1e-4, seed=0):
        if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
            raise InvalidConfigError(
                f"KMeans needs n_clusters to be an integer >= 1. Received: {n_clusters!r}"
            )
        if not isinstance(n_init, (int, np.integer)) or n_init < 1:
            raise InvalidConfigError(
                f"KMeans needs n_init to be an integer >= 1. Received: {n_init!r}"
            )
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise InvalidConfigError(
                f"KMeans needs max_iter to be an integer >= 1. Received: {max_iter!r}"
            )
        if not tol >= 0:
            raise InvalidConfigError(f"KMeans needs tol >= 0. Received: {tol!r}")

        self.n_clusters = int(n_clusters)
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.seed = seed
        self.cluster_centers_ = None
        self.labels_ = None
        self.inertia_ = None
        self.n_iter_ = None

    def fit(self, x):
        """Cluster the rows of `x`.

        Args:
            x: array of shape (n, d), n >= n_clusters, finite values.

        Returns:
            self, with `cluster_centers_`, `labels_`, `inertia_` and
            `n_iter_` set.

        Raises:
            InvalidInputError: when `x` is not 2-D, has fewer rows than
                clusters, or contains NaN or infinity.
        """
        points = self._check_input(x, "fit")
        if len(points) < self.n_clusters:
            raise InvalidInputError(
                f"KMeans.fit needs at least n_clusters={self.n_clusters} samples. "
                f"Received: {len(points)} samples. Lower n_clusters or pass more data."
            )

        rng = np.random.default_rng(self.seed)
        tolerance = self.tol * float(np.mean(np.var(points.astype("float64"), axis=0)))
        x_tensor = ops.convert_to_tensor(points)
        squared_norms = ops.sum(ops.square(x_tensor), axis=1)

        best = None
        for _ in range(self.n_init):
            initial = _kmeans_plus_plus(points, self.n_clusters, rng)
            centers, n_iter = self._lloyd(x_tensor, squared_norms, initial, tolerance)
            labels, inertia = _assign(points, centers)
            if best is None or inertia < best[2]:
                best = (centers, labels, inertia, n_iter)

        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        return self

    def fit_predict(self, x):
        """Fit on `x` and return `labels_`."""
        return self.fit(x).labels_

    def predict(self, x):
        """Return the index of the closest center for each row of `x`.

        Args:
            x: array of shape (n, d) with the `d` seen in `fit`.

        Returns:
            int64 array of shape (n,).
        """
        if self.cluster_centers_ is None:
            raise InvalidConfigError(
                "KMeans.predict was called before fit. Call fit(x) first."
            )
        points = self._check_input(x, "predict")
        distances = _squared_distances(
            ops.convert_to_tensor(points),
            ops.sum(ops.square(ops.convert_to_tensor(points)), axis=1),
            ops.convert_to_tensor(self.cluster_centers_),
        )
        return ops.convert_to_numpy(ops.argmin(distances, axis=1)).astype("int64")

    def _lloyd(self, x, squared_norms, initial, tolerance):
        """Run Lloyd iterations from `initial`; return centers and count."""
        centers = ops.convert_to_tensor(initial)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            distances = _squared_distances(x, squared_norms, centers)
            assignment = ops.one_hot(ops.argmin(distances, axis=1), self.n_clusters)
            counts = ops.sum(assignment, axis=0)
            sums = ops.matmul(ops.transpose(assignment), x)

            # An empty cluster keeps its old center instead of becoming NaN.
            new_centers = ops.where(
                counts[:, None] > 0, sums / ops.maximum(counts, 1.0)[:, None], centers
            )
            shift = float(ops.convert_to_numpy(ops.sum(ops.square(new_centers - centers))))
            centers = new_centers
            if shift <= tolerance:
                break
        return ops.convert_to_numpy(centers).astype("float32"), n_iter

    def _check_input(self, x, method):
        points = np.asarray(ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x)
        if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] == 0:
            raise InvalidInputError(
                f"KMeans.{method} expects an array of shape (n_samples, n_features). "
                f"Received: shape {points.shape}."
            )
        if not np.issubdtype(points.dtype, np.number):
            raise InvalidInputError(
                f"KMeans.{method} expects numbers. Received: dtype {points.dtype}."
            )
        if not np.all(np.isfinite(points)):
            raise InvalidInputError(
                f"KMeans.{method} received NaN or infinite values in an array of "
                f"shape {points.shape}. Remove or replace them first."
            )
        if self.cluster_centers_ is not None and method == "predict":
            expected = self.cluster_centers_.shape[1]
            if points.shape[1] != expected:
                raise InvalidInputError(
                    f"KMeans.predict expects {expected} features, as in fit. "
                    f"Received: shape {points.shape}."
                )
        return points.astype("float32")


def _squared_distances(x, squared_norms, centers):
    """Squared Euclidean distances of shape (n, k), clipped at zero."""
    center_norms = ops.sum(ops.square(centers), axis=1)
    distances = squared_norms[:, None] - 2.0 * ops.matmul(x, ops.transpose(centers))
    return ops.maximum(distances + center_norms[None, :], 0.0)


def _assign(points, centers):
    """Return labels and inertia, computed in float64 for an exact score."""
    x_tensor = ops.convert_to_tensor(points)
    distances = _squared_distances(
        x_tensor, ops.sum(ops.square(x_tensor), axis=1), ops.convert_to_tensor(centers)
    )
    labels = ops.convert_to_numpy(ops.argmin(distances, axis=1)).astype("int64")
    residuals = points.astype("float64") - centers.astype("float64")[labels]
    return labels, float(np.sum(residuals * residuals))


def _kmeans_plus_plus(points, n_clusters, rng):
    """Pick `n_clusters` rows by greedy k-means++ seeding.

    Each new center is the best of `2 + log(k)` candidates drawn with
    probability proportional to the squared distance to the chosen centers,
    where best means the lowest resulting potential.
    """
    data = points.astype("float64")
    n_samples = len(data)
    n_trials = 2 + int(math.log(n_clusters))
    chosen = [int(rng.integers(n_samples))]
    closest = np.sum((data - data[chosen[0]]) ** 2, axis=1)

    for _ in range(1, n_clusters):
        potential = closest.sum()
        if potential <= 0:
            # Every point sits on a chosen center, so any row will do.
            candidates = rng.integers(n_samples, size=n_trials)
        else:
            cumulative = np.cumsum(closest)
            draws = rng.random(n_trials) * cumulative[-1]
            candidates = np.minimum(np.searchsorted(cumulative, draws), n_samples - 1)
        candidate_distances = np.stack(
            [np.sum((data - data[c]) ** 2, axis=1) for c in candidates]
        )
        candidate_closest = np.minimum(closest[None, :], candidate_distances)
        best = int(np.argmin(candidate_closest.sum(axis=1)))
        chosen.append(int(candidates[best]))
        closest = candidate_closest[best]

    return data[chosen].astype("float32")
