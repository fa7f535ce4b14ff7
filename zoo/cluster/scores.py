"""Clustering scores in NumPy: normalized mutual information and ARI.

Both follow the definitions that scikit-learn 1.x implements, so that the
numbers agree with `sklearn.metrics` to rounding.
"""

import numpy as np

from zoo.errors import InvalidInputError


def normalized_mutual_info(labels_true, labels_pred):
    """Return the normalized mutual information of two labelings.

    The mutual information (natural log) is divided by the arithmetic mean of
    the two entropies. Two labelings that each put every sample in one
    cluster score 1.0; a score of 0 means independent labelings.

    Args:
        labels_true: array of shape (n,) of class labels (any hashable values).
        labels_pred: array of shape (n,) of cluster labels.

    Returns:
        A Python float in [0, 1].
    """
    true_codes, pred_codes = _check_labelings(labels_true, labels_pred, "normalized_mutual_info")
    n_classes, n_clusters = true_codes.max() + 1, pred_codes.max() + 1
    if n_classes == n_clusters == 1:
        return 1.0

    contingency = _contingency(true_codes, pred_codes).astype("float64")
    mutual_info = _mutual_info(contingency)
    if mutual_info == 0:
        return 0.0

    normalizer = 0.5 * (_entropy(true_codes) + _entropy(pred_codes))
    return float(mutual_info / normalizer)


def adjusted_rand_index(labels_true, labels_pred):
    """Return the adjusted Rand index (Hubert and Arabie, 1985).

    Computed from the pair confusion matrix with exact integer counts.

    Args:
        labels_true: array of shape (n,) of class labels.
        labels_pred: array of shape (n,) of cluster labels.

    Returns:
        A Python float, 1.0 for identical partitions and about 0 for random ones.
    """
    true_codes, pred_codes = _check_labelings(labels_true, labels_pred, "adjusted_rand_index")
    n_samples = len(true_codes)
    contingency = _contingency(true_codes, pred_codes)

    # Pair counts as Python integers so that large n cannot overflow.
    sum_squares = int(np.sum(contingency.astype(object) ** 2))
    row_sums = contingency.sum(axis=1).astype(object)
    column_sums = contingency.sum(axis=0).astype(object)
    same_both = sum_squares - n_samples
    same_pred_only = int(np.sum(column_sums**2)) - sum_squares
    same_true_only = int(np.sum(row_sums**2)) - sum_squares
    different_both = n_samples**2 - same_pred_only - same_true_only - sum_squares

    if same_true_only == 0 and same_pred_only == 0:
        return 1.0
    numerator = 2.0 * (same_both * different_both - same_true_only * same_pred_only)
    denominator = (same_both + same_true_only) * (same_true_only + different_both) + (
        same_both + same_pred_only
    ) * (same_pred_only + different_both)
    return float(numerator / denominator)


def _check_labelings(labels_true, labels_pred, name):
    true_array = np.asarray(labels_true)
    pred_array = np.asarray(labels_pred)
    if true_array.ndim != 1 or pred_array.ndim != 1:
        raise InvalidInputError(
            f"{name} expects two 1-D label arrays. Received: shapes "
            f"{true_array.shape} and {pred_array.shape}."
        )
    if len(true_array) != len(pred_array) or len(true_array) == 0:
        raise InvalidInputError(
            f"{name} expects two non-empty label arrays of equal length. "
            f"Received: lengths {len(true_array)} and {len(pred_array)}."
        )
    _, true_codes = np.unique(true_array, return_inverse=True)
    _, pred_codes = np.unique(pred_array, return_inverse=True)
    return true_codes.ravel(), pred_codes.ravel()


def _contingency(true_codes, pred_codes):
    """Integer matrix (classes, clusters) of co-occurrence counts."""
    n_clusters = pred_codes.max() + 1
    flat = np.bincount(true_codes * n_clusters + pred_codes, minlength=(true_codes.max() + 1) * n_clusters)
    return flat.reshape(-1, n_clusters).astype("int64")


def _mutual_info(contingency):
    """Mutual information in nats, from a float64 contingency matrix."""
    total = contingency.sum()
    rows, cols = np.nonzero(contingency)
    values = contingency[rows, cols]
    row_sums = contingency.sum(axis=1)
    column_sums = contingency.sum(axis=0)

    joint = values / total
    outer = row_sums[rows] * column_sums[cols]
    terms = joint * (np.log(values) - np.log(total)) + joint * (
        -np.log(outer) + np.log(row_sums.sum()) + np.log(column_sums.sum())
    )
    terms = np.where(np.abs(terms) < np.finfo("float64").eps, 0.0, terms)
    return max(float(terms.sum()), 0.0)


def _entropy(codes):
    counts = np.bincount(codes).astype("float64")
    counts = counts[counts > 0]
    total = counts.sum()
    return float(-np.sum((counts / total) * (np.log(counts) - np.log(total))))
