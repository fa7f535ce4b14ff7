"""Face verification, identification, clustering and retrieval metrics.

NumPy and scikit-learn only: the functions take embeddings as arrays, so
they work for any backend and for the Eigenfaces baseline alike. All
distances are Euclidean, and two images are declared "same" when their
distance is at most the threshold.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score, roc_curve

from zoo.cluster import KMeans, adjusted_rand_index, normalized_mutual_info
from zoo.errors import InvalidInputError

FAR_TARGETS = (1e-2, 1e-3)


def pairwise_distances(a, b=None):
    """Return the Euclidean distances between the rows of `a` and of `b`.

    Args:
        a: float array of shape (N, D).
        b: float array of shape (M, D); default `a`.

    Returns:
        Float64 array of shape (N, M).
    """
    a = np.asarray(a, dtype=np.float64)
    b = a if b is None else np.asarray(b, dtype=np.float64)
    squared = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def all_pairs(embeddings, labels):
    """Return the distance and the same-label flag of every unordered pair.

    Args:
        embeddings: float array of shape (N, D).
        labels: integer array of shape (N,).

    Returns:
        `(distances, same)`, arrays of shape (N * (N - 1) / 2,).
    """
    embeddings, labels = _check(embeddings, labels)
    rows, cols = np.triu_indices(len(labels), k=1)
    distances = pairwise_distances(embeddings)[rows, cols]
    return distances, labels[rows] == labels[cols]


def threshold_at_far(negative_distances, far):
    """Return the largest distance threshold whose false-accept rate is <= `far`.

    With n negative pairs, at most k = floor(far * n) of them may be
    accepted. The threshold is the midpoint between the k-th and the
    (k+1)-th smallest negative distance, or just below the smallest when
    k = 0, so exactly the k nearest negatives are accepted (ties aside).

    Args:
        negative_distances: distances of different-identity pairs, shape (n,).
        far: the target false-accept rate, in (0, 1).

    Returns:
        A float threshold; pairs with distance <= threshold are "same".
    """
    ordered = np.sort(np.asarray(negative_distances, dtype=np.float64))
    if len(ordered) == 0:
        raise InvalidInputError("threshold_at_far needs at least one negative pair. Received none.")
    allowed = int(np.floor(far * len(ordered) + 1e-9))
    if allowed >= len(ordered):
        return float(ordered[-1])
    if allowed == 0:
        return float(np.nextafter(ordered[0], -np.inf))
    return float((ordered[allowed - 1] + ordered[allowed]) / 2.0)


def verification(embeddings, labels, far_targets=FAR_TARGETS):
    """Score face verification over all pairs of the given images.

    Args:
        embeddings: float array of shape (N, D).
        labels: integer array of shape (N,), the identities.
        far_targets: false-accept rates to report the TAR and threshold at.

    Returns:
        A dict: `auc` (ROC AUC of the negated distance), `eer` (equal error
        rate), `pairs_same`, `pairs_different`, and per target
        `tar_far_<far>` and `threshold_far_<far>` (keys such as
        `tar_far_1e-2`). Also `roc` with the arrays `fpr` and `tpr`, which
        callers drop before writing JSON.
    """
    distances, same = all_pairs(embeddings, labels)
    if same.all() or not same.any():
        raise InvalidInputError(
            "verification needs pairs of the same and of different identities. "
            f"Received {int(same.sum())} same and {int((~same).sum())} different pairs."
        )

    fpr, tpr, _ = roc_curve(same, -distances)
    false_rejects = 1.0 - tpr
    crossing = int(np.argmin(np.abs(false_rejects - fpr)))
    result = {
        "auc": float(roc_auc_score(same, -distances)),
        "eer": float((fpr[crossing] + false_rejects[crossing]) / 2.0),
        "pairs_same": int(same.sum()),
        "pairs_different": int((~same).sum()),
        "roc": {"fpr": fpr, "tpr": tpr},
    }
    for far in far_targets:
        threshold = threshold_at_far(distances[~same], far)
        result[f"tar_far_{far_key(far)}"] = float(np.mean(distances[same] <= threshold))
        result[f"threshold_far_{far_key(far)}"] = threshold
    return result


def far_key(far):
    """Format a rate as in the metric names: 0.01 -> "1e-2"."""
    mantissa, exponent = f"{far:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def gallery_templates(embeddings, labels, mode="mean"):
    """Build one template per identity, or keep every enrolled image.

    Args:
        embeddings: float array of shape (N, D) of the enrolled images.
        labels: integer array of shape (N,).
        mode: "mean" (the mean embedding of each identity, rescaled to unit
            norm when the inputs have unit norm) or "all".

    Returns:
        `(templates, template_labels)`.
    """
    embeddings, labels = _check(embeddings, labels)
    if mode == "all":
        return embeddings, labels
    if mode != "mean":
        raise InvalidInputError(f"gallery mode must be 'mean' or 'all'. Received: {mode!r}")

    identities = np.unique(labels)
    templates = np.stack([embeddings[labels == identity].mean(0) for identity in identities])
    norms = np.linalg.norm(embeddings, axis=1)
    if np.allclose(norms, 1.0, atol=1e-3):
        templates /= np.maximum(np.linalg.norm(templates, axis=1, keepdims=True), 1e-12)
    return templates, identities


def identification(gallery, gallery_labels, probes, probe_labels, ranks=(1, 5), mode="mean"):
    """Score closed-set identification: rank-k accuracy of each probe.

    Args:
        gallery: float array (G, D) of the enrolled images.
        gallery_labels: integer array (G,).
        probes: float array (Q, D).
        probe_labels: integer array (Q,); every label must be enrolled.
        ranks: the ranks k to report.
        mode: gallery mode, see `gallery_templates`.

    Returns:
        A dict `{"rank_1": ..., "rank_5": ...}`; with mode "all", the rank of
        an identity is that of its nearest enrolled image.
    """
    templates, template_labels = gallery_templates(gallery, gallery_labels, mode)
    probes, probe_labels = _check(probes, probe_labels)
    missing = set(probe_labels.tolist()) - set(template_labels.tolist())
    if missing:
        raise InvalidInputError(
            f"Every probe identity must be enrolled. Not enrolled: {sorted(missing)}."
        )

    distances = pairwise_distances(probes, templates)
    identities = np.unique(template_labels)
    # Nearest distance per identity, columns in the order of `identities`.
    per_identity = np.stack(
        [distances[:, template_labels == identity].min(1) for identity in identities], axis=1
    )
    order = identities[np.argsort(per_identity, axis=1, kind="stable")]
    hits = order == probe_labels[:, None]
    return {f"rank_{k}": float(hits[:, :k].any(1).mean()) for k in ranks}


def open_set(gallery, gallery_labels, probes, probe_labels, threshold, mode="mean"):
    """Score open-set identification at a distance threshold.

    A probe is accepted as its nearest enrolled identity when that
    distance is <= `threshold`, and reported unknown otherwise.

    Args:
        gallery, gallery_labels: the enrolled images and identities.
        probes, probe_labels: probes of enrolled and of unknown identities.
        threshold: the distance threshold.
        mode: gallery mode, see `gallery_templates`.

    Returns:
        A dict: `detection_identification_rate`, the fraction of probes of
        enrolled identities accepted as the right identity;
        `false_accept_rate`, the fraction of probes of unknown identities
        accepted as anyone; and the probe counts.
    """
    templates, template_labels = gallery_templates(gallery, gallery_labels, mode)
    probes, probe_labels = _check(probes, probe_labels)
    distances = pairwise_distances(probes, templates)
    nearest = distances.argmin(1)
    accepted = distances[np.arange(len(probes)), nearest] <= threshold

    known = np.isin(probe_labels, template_labels)
    if not known.any() or known.all():
        raise InvalidInputError(
            "open_set needs probes of enrolled and of unknown identities. "
            f"Received {int(known.sum())} known and {int((~known).sum())} unknown probes."
        )
    correct = accepted & (template_labels[nearest] == probe_labels)
    return {
        "detection_identification_rate": float(correct[known].mean()),
        "false_accept_rate": float(accepted[~known].mean()),
        "known_probes": int(known.sum()),
        "unknown_probes": int((~known).sum()),
    }


def clustering(embeddings, labels, seed=0):
    """Cluster with K-means (K = the number of identities) and score it.

    Returns:
        A dict with `nmi` and `ari` against the true labels.
    """
    embeddings, labels = _check(embeddings, labels)
    predicted = KMeans(n_clusters=len(np.unique(labels)), seed=seed).fit(embeddings).labels_
    return {
        "nmi": float(normalized_mutual_info(labels, predicted)),
        "ari": float(adjusted_rand_index(labels, predicted)),
    }


def recall_at_k(embeddings, labels, ks=(1, 5)):
    """Retrieval Recall@k: each image queries all the others.

    A query counts as a hit when one of its k nearest other images has its
    label (the definition of Song et al., 2016, "Deep Metric Learning via
    Lifted Structured Feature Embedding").

    Returns:
        A dict `{"recall_at_1": ..., "recall_at_5": ...}`.
    """
    embeddings, labels = _check(embeddings, labels)
    largest = max(ks)
    hits = np.zeros((len(labels), largest), dtype=bool)

    # Blocks of queries keep the distance matrix small for 10,000 images.
    for start in range(0, len(labels), 1024):
        stop = min(start + 1024, len(labels))
        distances = pairwise_distances(embeddings[start:stop], embeddings)
        distances[np.arange(stop - start), np.arange(start, stop)] = np.inf
        nearest = np.argpartition(distances, largest, axis=1)[:, :largest]
        nearest_distances = np.take_along_axis(distances, nearest, axis=1)
        nearest = np.take_along_axis(nearest, np.argsort(nearest_distances, axis=1, kind="stable"), 1)
        hits[start:stop] = labels[nearest] == labels[start:stop, None]
    return {f"recall_at_{k}": float(hits[:, :k].any(1).mean()) for k in ks}


def pixel_features(images, size=None):
    """Flatten images for the Eigenfaces baseline, halving them first if asked.

    Args:
        images: float array (N, H, W, C).
        size: `(height, width)`; when it is half of (H, W), each 2 x 2
            block is averaged. None keeps the images.

    Returns:
        Float64 array of shape (N, features).
    """
    images = np.asarray(images, dtype=np.float64)
    if size is not None and tuple(size) != images.shape[1:3]:
        height, width = size
        if images.shape[1] != 2 * height or images.shape[2] != 2 * width:
            raise InvalidInputError(
                f"pixel_features halves images only. Received images of {images.shape[1:3]} "
                f"and size {tuple(size)}."
            )
        images = images.reshape(len(images), height, 2, width, 2, -1).mean(axis=(2, 4))
    return images.reshape(len(images), -1)


def eigenfaces(train_images, components=64, size=None, seed=0):
    """Fit the Eigenfaces baseline (Turk and Pentland, 1991): PCA on pixels.

    Args:
        train_images: float array (N, H, W, C) of the training images.
        components: the number of principal components.
        size: working size for `pixel_features`.
        seed: the PCA solver seed.

    Returns:
        A function mapping images (M, H, W, C) to embeddings (M, components).
    """
    pca = PCA(n_components=components, random_state=seed)
    pca.fit(pixel_features(train_images, size))

    def embed(images):
        return pca.transform(pixel_features(images, size))

    return embed


def _check(embeddings, labels):
    embeddings = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise InvalidInputError(
            "Expected embeddings of shape (N, D) and labels of shape (N,). "
            f"Received {embeddings.shape} and {labels.shape}."
        )
    return embeddings, labels
