"""Pairwise distances and the FaceNet triplet loss with online mining.

The loss of Schroff, Kalenichenko and Philbin (2015), "FaceNet: A Unified
Embedding for Face Recognition and Clustering", on squared Euclidean
distances between embeddings:

    loss(a, p, n) = max(d(a, p)^2 - d(a, n)^2 + margin, 0)

The triplets are mined inside each batch ("online mining"); the batch
must hold several images of each label, as the P x K sampler yields.

- `batch_all`: every valid triplet; the loss is the mean over the
  triplets whose loss is positive (Hermans, Beyer and Leibe, 2017, "In
  Defense of the Triplet Loss for Person Re-Identification").
- `batch_hard`: for each anchor, its farthest positive and its nearest
  negative (Hermans et al., 2017); the mean over anchors.
- `semi_hard`: for each anchor-positive pair, the nearest negative that is
  farther than the positive (FaceNet, section 3.2); when there is none,
  the farthest negative. The mean over anchor-positive pairs.

Everything here uses `keras.ops` only, so it runs on every backend, and a
zero distance gives a finite gradient (no square root of zero is taken
on the path of the loss).
"""

from keras import ops

from zoo.errors import InvalidConfigError

MINING_STRATEGIES = ("batch_all", "batch_hard", "semi_hard")

# Added under the square root of the reported distances so that the
# gradient stays finite where a distance is zero.
DISTANCE_EPSILON = 1e-12


def pairwise_squared_distances(embeddings):
    """Compute the squared Euclidean distance between every pair of rows.

    Uses ||a||^2 - 2 a.b + ||b||^2, clipped at 0 because rounding can make
    it slightly negative, and sets the diagonal to exactly 0. No square
    root is taken, so the gradient is finite for equal embeddings.

    Args:
        embeddings: float tensor of shape (B, D).

    Returns:
        Float32 tensor of shape (B, B).
    """
    embeddings = ops.cast(embeddings, "float32")
    dot = ops.matmul(embeddings, ops.transpose(embeddings))
    squared_norms = ops.diagonal(dot)
    distances = (
        ops.expand_dims(squared_norms, 1) - 2.0 * dot + ops.expand_dims(squared_norms, 0)
    )
    distances = ops.maximum(distances, 0.0)

    off_diagonal = 1.0 - ops.eye(ops.shape(embeddings)[0], dtype="float32")
    return distances * off_diagonal


def euclidean_distances(squared_distances):
    """Return the square root of squared distances, with a finite gradient at 0.

    Args:
        squared_distances: float tensor of non-negative values, any shape.

    Returns:
        A tensor of the same shape; zeros stay exactly zero.
    """
    is_zero = ops.cast(ops.equal(squared_distances, 0.0), "float32")
    distances = ops.sqrt(squared_distances + is_zero * DISTANCE_EPSILON)
    return distances * (1.0 - is_zero)


def label_masks(labels):
    """Return the positive-pair and negative-pair masks of a batch.

    Args:
        labels: integer tensor of shape (B,) or (B, 1).

    Returns:
        `(positive, negative)`, float32 tensors of shape (B, B).
        `positive[i, j]` is 1 when i != j and the labels are equal;
        `negative[i, j]` is 1 when the labels differ.
    """
    labels = ops.reshape(labels, (-1,))
    same = ops.cast(ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0)), "float32")
    off_diagonal = 1.0 - ops.eye(ops.shape(labels)[0], dtype="float32")
    return same * off_diagonal, 1.0 - same


def triplet_loss(labels, embeddings, margin=0.2, mining="semi_hard"):
    """Compute the triplet loss of a batch with online mining.

    Args:
        labels: integer tensor of shape (B,) or (B, 1); the identity of each row.
        embeddings: float tensor of shape (B, D), usually L2-normalised.
        margin: the margin on squared distances, > 0.
        mining: one of `MINING_STRATEGIES`.

    Returns:
        `(loss, stats)`. `loss` is a float32 scalar, 0 when the batch holds
        no valid triplet. `stats` maps to float32 scalars:
        `active_triplets`, the fraction of the mined triplets (or anchors,
        or anchor-positive pairs) whose loss is positive; `ap_distance`
        and `an_distance`, the mean Euclidean distance over all
        anchor-positive and all anchor-negative pairs of the batch.

    Raises:
        InvalidConfigError: for an unknown `mining` or a margin <= 0.
    """
    if mining not in MINING_STRATEGIES:
        raise InvalidConfigError(
            f"Unknown triplet mining '{mining}'. Expected one of {MINING_STRATEGIES}."
        )
    if not margin > 0:
        raise InvalidConfigError(f"The triplet margin must be > 0. Received: margin={margin!r}")

    distances = pairwise_squared_distances(embeddings)
    positive, negative = label_masks(labels)

    if mining == "batch_all":
        loss, active = _batch_all(distances, positive, negative, margin)
    elif mining == "batch_hard":
        loss, active = _batch_hard(distances, positive, negative, margin)
    else:
        loss, active = _semi_hard(distances, positive, negative, margin)

    # The statistics are for logging only: no gradient flows through them.
    euclidean = euclidean_distances(ops.stop_gradient(distances))
    stats = {
        "active_triplets": active,
        "ap_distance": _masked_mean(euclidean, positive),
        "an_distance": _masked_mean(euclidean, negative),
    }
    return loss, stats


def _masked_mean(values, mask):
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def _batch_all(distances, positive, negative, margin):
    # losses[a, p, n] = d(a, p)^2 - d(a, n)^2 + margin, kept where
    # (a, p) is a positive pair and (a, n) a negative pair.
    losses = ops.expand_dims(distances, 2) - ops.expand_dims(distances, 1) + margin
    valid = ops.expand_dims(positive, 2) * ops.expand_dims(negative, 1)
    losses = ops.maximum(losses, 0.0) * valid

    active = ops.cast(ops.greater(losses, 0.0), "float32")
    active_count = ops.sum(active)
    loss = ops.sum(losses) / ops.maximum(active_count, 1.0)
    return loss, active_count / ops.maximum(ops.sum(valid), 1.0)


def _batch_hard(distances, positive, negative, margin):
    hardest_positive = ops.max(distances * positive, axis=1)

    # Non-negatives are pushed above every distance before the min.
    largest = ops.max(distances)
    hardest_negative = ops.min(distances + largest * (1.0 - negative) + (1.0 - negative), axis=1)

    # Anchors without a positive or without a negative have no triplet.
    has_triplet = ops.cast(ops.greater(ops.sum(positive, axis=1), 0.0), "float32") * ops.cast(
        ops.greater(ops.sum(negative, axis=1), 0.0), "float32"
    )
    losses = ops.maximum(hardest_positive - hardest_negative + margin, 0.0) * has_triplet

    count = ops.maximum(ops.sum(has_triplet), 1.0)
    active = ops.sum(ops.cast(ops.greater(losses, 0.0), "float32")) / count
    return ops.sum(losses) / count, active


def _semi_hard(distances, positive, negative, margin):
    # For each (a, p): candidates are the negatives n with d(a, n) > d(a, p).
    ap = ops.expand_dims(distances, 2)
    an = ops.expand_dims(distances, 1)
    negative_3d = ops.expand_dims(negative, 1)
    farther = ops.cast(ops.greater(an, ap), "float32") * negative_3d
    has_farther = ops.greater(ops.sum(farther, axis=2), 0.0)

    # The nearest of those negatives, found with the others pushed up.
    largest = ops.max(distances) + 1.0
    nearest_farther = ops.min(an + largest * (1.0 - farther), axis=2)

    # Without a farther negative, FaceNet's rule falls back to the
    # farthest negative of the anchor, the easiest one.
    farthest_negative = ops.max(distances * negative, axis=1, keepdims=True)
    chosen = ops.where(has_farther, nearest_farther, farthest_negative)

    has_negative = ops.cast(ops.greater(ops.sum(negative, axis=1, keepdims=True), 0.0), "float32")
    valid = positive * has_negative
    losses = ops.maximum(distances - chosen + margin, 0.0) * valid

    count = ops.maximum(ops.sum(valid), 1.0)
    active = ops.sum(ops.cast(ops.greater(losses, 0.0), "float32")) / count
    return ops.sum(losses) / count, active


def cosface_loss(labels, embeddings, class_centres, scale=30.0, margin=0.2):
    """Compute the large margin cosine loss over the training classes.

    CosFace (Wang et al., 2018, "CosFace: Large Margin Cosine Loss for
    Deep Face Recognition"): a softmax over `scale * cos(theta_c)`, the
    cosine between each embedding and a learned centre per class, with
    `margin` taken off the cosine of the true class. The triplet loss
    compares only the P x K people of one batch. This loss pulls each
    embedding towards its own class centre and away from all the other
    centres, so every step involves every training class.

    Args:
        labels: integer tensor of shape (B,) or (B, 1), in 0..C-1.
            NOTE: a label outside that range is not rejected inside the
            compiled step: its one-hot row is all zeros and its loss wrong.
        embeddings: float tensor of shape (B, D) with unit L2 norm.
        class_centres: float tensor of shape (C, D); rows are normalised here.
        scale: the softmax temperature's inverse, > 0.
        margin: subtracted from the true class's cosine, >= 0.

    Returns:
        `(loss, stats)`: `loss` the mean cross-entropy, a float32 scalar;
        `stats` contains `class_accuracy`, the fraction of rows whose
        nearest centre is their own class.
    """
    embeddings = ops.cast(embeddings, "float32")
    centres = ops.cast(class_centres, "float32")
    centres = centres * ops.rsqrt(
        ops.maximum(ops.sum(ops.square(centres), axis=1, keepdims=True), 1e-12)
    )
    cosine = ops.matmul(embeddings, ops.transpose(centres))

    labels = ops.reshape(labels, (-1,))
    one_hot = ops.one_hot(labels, ops.shape(centres)[0], dtype="float32")
    logits = scale * (cosine - margin * one_hot)
    loss = ops.mean(ops.categorical_crossentropy(one_hot, logits, from_logits=True))

    predicted = ops.argmax(ops.stop_gradient(cosine), axis=1)
    correct = ops.equal(ops.cast(predicted, "int32"), ops.cast(labels, "int32"))
    return loss, {"class_accuracy": ops.mean(ops.cast(correct, "float32"))}
