"""Face verification, identification, clustering and retrieval metrics.

NumPy and scikit-learn only: the functions take embeddings as arrays, so
they work for any backend and for the Eigenfaces baseline alike. All
distances are Euclidean, and two images are declared "same" when their
distance is at most the threshold.
"""

import dataclasses
import typing

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


@dataclasses.dataclass(frozen=True)
class OpenSetSplit:
    """One gallery of an open-set test and the searches made against it.

    Attributes:
        gallery: float array (G, D) of the enrolled images.
        gallery_labels: integer array (G,).
        mated_probes: float array (M, D) of probes of enrolled identities.
        mated_labels: integer array (M,).
        non_mated_probes: float array (N, D) of probes of identities that
            are not enrolled.
        non_mated_labels: integer array (N,), used only to check that none
            of these identities is enrolled.
    """

    gallery: np.ndarray
    gallery_labels: np.ndarray
    mated_probes: np.ndarray
    mated_labels: np.ndarray
    non_mated_probes: np.ndarray
    non_mated_labels: np.ndarray


def minimum_searches(fpir):
    """Return ceil(1 / fpir), the fewest non-mated searches that can measure `fpir`."""
    return int(np.ceil(1.0 / fpir - 1e-9))


def threshold_at_fpir(non_mated_distances, fpir):
    """Return the largest threshold at which at most `fpir` of the non-mated searches return a candidate.

    Args:
        non_mated_distances: rank-1 distances of the non-mated searches, shape (n,).
        fpir: the target false positive identification rate, in (0, 1).

    Returns:
        A float threshold as in `threshold_at_far`, or None when n is below
        `minimum_searches(fpir)`, because then no false positive is allowed
        and the rate is not measured.
    """
    if len(non_mated_distances) < minimum_searches(fpir):
        return None
    return threshold_at_far(non_mated_distances, fpir)


def rank_1_search(gallery, gallery_labels, probes, mode="mean"):
    """Search each probe in the gallery and return its rank-1 candidate.

    Args:
        gallery: float array (G, D) of the enrolled images.
        gallery_labels: integer array (G,).
        probes: float array (Q, D).
        mode: gallery mode, see `gallery_templates`.

    Returns:
        `(identities, distances)`, arrays of shape (Q,): the nearest
        enrolled identity and its distance.
    """
    templates, template_labels = gallery_templates(gallery, gallery_labels, mode)
    probes, _ = _check(probes, np.zeros(len(probes), dtype=np.int64))
    if probes.shape[1] != templates.shape[1]:
        raise InvalidInputError(
            f"Probes and gallery must have the same embedding size. Received {probes.shape[1]} "
            f"and {templates.shape[1]}."
        )
    distances = pairwise_distances(probes, templates)
    nearest = distances.argmin(1)
    return template_labels[nearest], distances[np.arange(len(probes)), nearest]


def open_set_identification(splits, fpir_targets=FAR_TARGETS, mode="mean"):
    """Score open-set (1:N) identification over several galleries.

    A search returns its rank-1 candidate when the candidate's distance is
    at most the threshold, and "unknown" otherwise. A mated search (a probe
    of an enrolled identity) counts towards the detection and
    identification rate (DIR) when it returns the right identity. A
    non-mated search (a probe of an identity that is not enrolled) is a
    false positive when it returns anyone. The threshold at each false
    positive identification rate (FPIR) target is fitted on the non-mated
    searches of all splits together, with `threshold_at_fpir`, because one
    split alone often has too few of them. FPIR is defined as in NIST IR
    8271 (FRVT Part 2: Identification), and DIR is 1 - FNIR at rank 1.

    Args:
        splits: a list of `OpenSetSplit`.
        fpir_targets: FPIR targets to report the DIR and threshold at.
        mode: gallery mode, see `gallery_templates`.

    Returns:
        A dict with the counts `splits`, `gallery_identities` (the mean
        number of enrolled identities per split), `mated_searches` and
        `non_mated_searches` (totals over the splits); per target, keys
        such as `threshold_fpir_1e-2` (distance threshold),
        `fpir_1e-2` (the measured FPIR over all splits at that threshold,
        at most the target), `dir_fpir_1e-2` (the mean DIR over the
        splits) and `dir_fpir_1e-2_std`, `_min`, `_max` (its spread over
        the splits, std with ddof 0). A target with fewer than
        `minimum_searches(target)` non-mated searches gets None as its
        threshold and DIR, and no other keys. Also `curve` with the arrays
        `fpir` and `dir` over all thresholds, the searches of all splits
        pooled, which callers drop before writing JSON.

    Raises:
        InvalidInputError: when `splits` is empty, a split has no mated or
            no non-mated search, a mated identity is not enrolled, or a
            non-mated identity is enrolled.
    """
    if not splits:
        raise InvalidInputError("open_set_identification needs at least one split. Received none.")
    searches = [_search_split(index, split, mode) for index, split in enumerate(splits)]
    non_mated = np.concatenate([search.non_mated_distances for search in searches])

    result = {
        "splits": len(splits),
        "gallery_identities": float(np.mean([search.gallery_identities for search in searches])),
        "mated_searches": int(sum(len(search.correct) for search in searches)),
        "non_mated_searches": len(non_mated),
    }
    for fpir in fpir_targets:
        key = far_key(fpir)
        threshold = threshold_at_fpir(non_mated, fpir)
        result[f"threshold_fpir_{key}"] = threshold
        if threshold is None:
            result[f"dir_fpir_{key}"] = None
            continue

        rates = np.array([np.mean(search.correct & (search.distances <= threshold)) for search in searches])
        result[f"fpir_{key}"] = float(np.mean(non_mated <= threshold))
        result[f"dir_fpir_{key}"] = float(rates.mean())
        result[f"dir_fpir_{key}_std"] = float(rates.std())
        result[f"dir_fpir_{key}_min"] = float(rates.min())
        result[f"dir_fpir_{key}_max"] = float(rates.max())

    result["curve"] = _dir_fpir_curve(searches, non_mated)
    return result


class _SplitSearches(typing.NamedTuple):
    """Rank-1 results of one split's searches.

    Attributes:
        correct: bool array (M,), whether each mated search's rank-1
            candidate is the right identity.
        distances: float array (M,), the distance of that candidate.
        non_mated_distances: float array (N,), the rank-1 distance of each
            non-mated search.
        gallery_identities: the number of enrolled identities.
    """

    correct: np.ndarray
    distances: np.ndarray
    non_mated_distances: np.ndarray
    gallery_identities: int


def _search_split(index, split, mode):
    """Check one split and run its searches; returns `_SplitSearches`."""
    enrolled = np.unique(np.asarray(split.gallery_labels))
    mated_labels = np.asarray(split.mated_labels)
    non_mated_labels = np.asarray(split.non_mated_labels)
    if len(mated_labels) == 0 or len(non_mated_labels) == 0:
        raise InvalidInputError(
            f"Open-set split {index} needs mated and non-mated searches. Received "
            f"{len(mated_labels)} mated and {len(non_mated_labels)} non-mated probes."
        )
    for probes, labels, kind in (
        (split.mated_probes, mated_labels, "mated"),
        (split.non_mated_probes, non_mated_labels, "non-mated"),
    ):
        if len(probes) != len(labels):
            raise InvalidInputError(
                f"Open-set split {index}: expected one label per {kind} probe. "
                f"Received {len(probes)} probes and {len(labels)} labels."
            )
    not_enrolled = sorted(set(mated_labels.tolist()) - set(enrolled.tolist()))
    if not_enrolled:
        raise InvalidInputError(
            f"Open-set split {index}: every mated probe's identity must be enrolled. "
            f"Not enrolled: {not_enrolled}."
        )
    enrolled_non_mated = sorted(set(non_mated_labels.tolist()) & set(enrolled.tolist()))
    if enrolled_non_mated:
        raise InvalidInputError(
            f"Open-set split {index}: non-mated probes must be of identities that are not enrolled. "
            f"Enrolled: {enrolled_non_mated}. Remove them from the gallery or from the non-mated probes."
        )

    identities, distances = rank_1_search(split.gallery, split.gallery_labels, split.mated_probes, mode)
    _, non_mated_distances = rank_1_search(split.gallery, split.gallery_labels, split.non_mated_probes, mode)
    return _SplitSearches(identities == mated_labels, distances, non_mated_distances, len(enrolled))


def _dir_fpir_curve(searches, non_mated):
    """Return the pooled DIR and FPIR at every distance that changes one of them."""
    correct = np.concatenate([search.distances[search.correct] for search in searches])
    mated = sum(len(search.correct) for search in searches)
    thresholds = np.unique(np.concatenate([correct, non_mated]))
    fpir = np.searchsorted(np.sort(non_mated), thresholds, side="right") / len(non_mated)
    dir_ = np.searchsorted(np.sort(correct), thresholds, side="right") / mated
    return {"fpir": np.concatenate([[0.0], fpir]), "dir": np.concatenate([[0.0], dir_])}


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
