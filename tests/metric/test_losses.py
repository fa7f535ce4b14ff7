"""The triplet loss against a slow loop-based NumPy oracle, on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.errors import InvalidConfigError
from zoo.metric.embedder import L2Normalization
from zoo.metric.losses import (
    MINING_STRATEGIES,
    cosface_loss,
    pairwise_squared_distances,
    triplet_loss,
)
from zoo.metric.model import TripletModel


def oracle(labels, embeddings, margin, mining):
    """Loop over every anchor, positive and negative in float64."""
    embeddings = embeddings.astype(np.float64)
    count = len(labels)
    squared = np.zeros((count, count))
    for i in range(count):
        for j in range(count):
            squared[i, j] = np.sum((embeddings[i] - embeddings[j]) ** 2)

    def positives(a):
        return [p for p in range(count) if p != a and labels[p] == labels[a]]

    def negatives(a):
        return [n for n in range(count) if labels[n] != labels[a]]

    losses = []
    if mining == "batch_all":
        for a in range(count):
            for p in positives(a):
                for n in negatives(a):
                    losses.append(max(squared[a, p] - squared[a, n] + margin, 0.0))
        active = sum(value > 0 for value in losses)
        loss = sum(losses) / max(active, 1)
    elif mining == "batch_hard":
        for a in range(count):
            if positives(a) and negatives(a):
                hardest_positive = max(squared[a, p] for p in positives(a))
                hardest_negative = min(squared[a, n] for n in negatives(a))
                losses.append(max(hardest_positive - hardest_negative + margin, 0.0))
        loss = sum(losses) / max(len(losses), 1)
    else:
        for a in range(count):
            for p in positives(a):
                if not negatives(a):
                    continue
                farther = [squared[a, n] for n in negatives(a) if squared[a, n] > squared[a, p]]
                chosen = min(farther) if farther else max(squared[a, n] for n in negatives(a))
                losses.append(max(squared[a, p] - chosen + margin, 0.0))
        loss = sum(losses) / max(len(losses), 1)

    active_fraction = sum(value > 0 for value in losses) / max(len(losses), 1)
    distances = np.sqrt(squared)
    same = labels[:, None] == labels[None, :]
    positive_pairs = same & ~np.eye(count, dtype=bool)
    return loss, {
        "active_triplets": active_fraction,
        "ap_distance": distances[positive_pairs].mean(),
        "an_distance": distances[~same].mean(),
    }


def random_batch(seed, count=12, dim=4, classes=4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=count).astype("int32")
    embeddings = rng.normal(size=(count, dim)).astype("float32")
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return labels, embeddings


@pytest.mark.parametrize("mining", MINING_STRATEGIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_loss_matches_oracle(mining, seed):
    labels, embeddings = random_batch(seed)
    margin = 0.8

    loss, stats = triplet_loss(labels, embeddings, margin=margin, mining=mining)
    expected_loss, expected_stats = oracle(labels, embeddings, margin, mining)

    np.testing.assert_allclose(ops.convert_to_numpy(loss), expected_loss, rtol=1e-5, atol=1e-6)
    for name, value in expected_stats.items():
        np.testing.assert_allclose(ops.convert_to_numpy(stats[name]), value, rtol=1e-5, atol=1e-6)


def test_triplet_loss_golden_values():
    # A fixed 1-D batch worked by hand: labels [0, 0, 1], points 0, 1, 1.5.
    # Squared distances: d(0,1)=1, d(0,2)=2.25, d(1,2)=0.25; margin 0.5.
    labels = np.array([0, 0, 1], "int32")
    embeddings = np.array([[0.0], [1.0], [1.5]], "float32")

    # batch_all: anchor 0 -> 1 - 2.25 + 0.5 < 0; anchor 1 -> 1 - 0.25 + 0.5 = 1.25.
    loss, stats = triplet_loss(labels, embeddings, margin=0.5, mining="batch_all")
    np.testing.assert_allclose(ops.convert_to_numpy(loss), 1.25, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(stats["active_triplets"]), 0.5, rtol=1e-6)

    # batch_hard: same triplets, one per anchor with a positive: mean(0, 1.25).
    loss, _ = triplet_loss(labels, embeddings, margin=0.5, mining="batch_hard")
    np.testing.assert_allclose(ops.convert_to_numpy(loss), 0.625, rtol=1e-6)

    # semi_hard: anchor 1 has no negative farther than its positive, so it
    # takes its farthest negative (0.25): the same 1.25.
    loss, stats = triplet_loss(labels, embeddings, margin=0.5, mining="semi_hard")
    np.testing.assert_allclose(ops.convert_to_numpy(loss), 0.625, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(stats["ap_distance"]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(stats["an_distance"]), (1.5 + 0.5) / 2, rtol=1e-6)


@pytest.mark.parametrize("mining", MINING_STRATEGIES)
def test_triplet_loss_without_triplets_is_zero(mining):
    labels = np.array([0, 1, 2, 3], "int32")
    embeddings = np.eye(4, dtype="float32")

    loss, stats = triplet_loss(labels, embeddings, margin=0.2, mining=mining)

    assert float(ops.convert_to_numpy(loss)) == 0.0
    assert float(ops.convert_to_numpy(stats["active_triplets"])) == 0.0


def test_pairwise_squared_distances_are_exact_zero_on_diagonal():
    embeddings = np.random.default_rng(0).normal(size=(6, 5)).astype("float32") * 100
    distances = ops.convert_to_numpy(pairwise_squared_distances(embeddings))

    assert np.all(np.diag(distances) == 0.0)
    assert np.all(distances >= 0.0)


def test_triplet_loss_rejects_unknown_mining():
    labels, embeddings = random_batch(0)
    with pytest.raises(InvalidConfigError, match="batch_all"):
        triplet_loss(labels, embeddings, mining="hardest")


@pytest.mark.parametrize("mining", MINING_STRATEGIES)
def test_zero_distance_gradient_is_finite(mining):
    # Rows 0-3 are one input, so their embeddings are equal (distance 0);
    # rows 4-7 are zero inputs, so their embeddings are zero vectors, the
    # worst case of the L2 normalisation.
    inputs = keras.Input(shape=(3,), name="images")
    dense = keras.layers.Dense(4, name="projection")
    embeddings = L2Normalization(name="embeddings")(dense(inputs))
    embedder = keras.Model(inputs, embeddings)
    dense.set_weights([np.ones((3, 4), "float32"), np.zeros(4, "float32")])

    model = TripletModel(embedder, margin=0.2, mining=mining)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x = np.zeros((8, 3), "float32")
    x[:4] = [1.0, 2.0, 3.0]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], "int32")

    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)

    assert np.isfinite(history.history["loss"][0])
    for weight in dense.get_weights():
        assert np.all(np.isfinite(weight))


def cosface_oracle(labels, embeddings, centres, scale, margin):
    """Compute the CosFace loss in float64, one row at a time."""
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    losses = []
    for label, embedding in zip(labels, embeddings.astype(np.float64)):
        logits = scale * (centres @ embedding)
        logits[label] -= scale * margin
        losses.append(np.log(np.sum(np.exp(logits - logits.max()))) + logits.max() - logits[label])
    return float(np.mean(losses))


@pytest.mark.parametrize("seed", [0, 1])
def test_cosface_loss_matches_oracle(seed):
    labels, embeddings = random_batch(seed)
    centres = np.random.default_rng(seed + 10).normal(size=(4, 4)).astype("float32")

    loss, stats = cosface_loss(labels, embeddings, centres, scale=8.0, margin=0.3)

    expected = cosface_oracle(labels, embeddings, centres.astype(np.float64), 8.0, 0.3)
    np.testing.assert_allclose(ops.convert_to_numpy(loss), expected, rtol=1e-5)
    unit_centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    accuracy = np.mean(np.argmax(embeddings @ unit_centres.T, axis=1) == labels)
    np.testing.assert_allclose(ops.convert_to_numpy(stats["class_accuracy"]), accuracy)


def test_cosface_loss_golden_value():
    # Two centres on the axes and an embedding on the first: cosines 1 and
    # 0, so with s = 2 and m = 0.5 the logits are 1 and 0, and the loss is
    # log(1 + e^-1) = 0.3132617.
    loss, stats = cosface_loss(
        np.array([0], "int32"), np.array([[1.0, 0.0]], "float32"), np.eye(2, dtype="float32"),
        scale=2.0, margin=0.5,
    )

    np.testing.assert_allclose(ops.convert_to_numpy(loss), np.log1p(np.exp(-1.0)), rtol=1e-6)
    assert float(ops.convert_to_numpy(stats["class_accuracy"])) == 1.0


def test_cosface_step_matches_numeric_gradient():
    # One SGD step of the class centres, against a central-difference
    # gradient of the float64 oracle: the same numbers on every backend.
    labels, embeddings = random_batch(3, count=6, dim=3, classes=3)
    inputs = keras.Input(shape=(3,), name="images")
    embedder = keras.Model(inputs, L2Normalization(name="embeddings")(inputs))
    model = TripletModel(
        embedder, mining="batch_all", num_classes=3, classification_scale=4.0, classification_margin=0.2
    )
    centres = np.random.default_rng(7).normal(size=(3, 3))
    model.class_centres.assign(centres.astype("float32"))
    model.compile(optimizer=keras.optimizers.SGD(0.5))

    model.fit(embeddings, labels, batch_size=6, epochs=1, verbose=0)

    gradient = np.zeros_like(centres)
    step = 1e-6
    for index in np.ndindex(centres.shape):
        shifted = [centres.copy(), centres.copy()]
        shifted[0][index] += step
        shifted[1][index] -= step
        gradient[index] = (
            cosface_oracle(labels, embeddings, shifted[0], 4.0, 0.2)
            - cosface_oracle(labels, embeddings, shifted[1], 4.0, 0.2)
        ) / (2 * step)
    expected = centres - 0.5 * gradient
    np.testing.assert_allclose(ops.convert_to_numpy(model.class_centres), expected, atol=1e-5)


@pytest.mark.parametrize(
    "arguments",
    [{"num_classes": 1}, {"num_classes": 2.5}, {"num_classes": 3, "classification_weight": 0.0},
     {"num_classes": 3, "classification_margin": -0.1}, {"triplet_weight": 0.0},
     {"num_classes": 3, "triplet_weight": -1.0}, {"num_classes": 3, "triplet_weight": float("inf")},
     {"num_classes": 3, "classification_scale": float("nan")}, {"num_classes": -2}],
)
def test_triplet_model_rejects_bad_classification_head(arguments):
    inputs = keras.Input(shape=(3,), name="images")
    embedder = keras.Model(inputs, L2Normalization(name="embeddings")(inputs))

    with pytest.raises(InvalidConfigError, match="Received"):
        TripletModel(embedder, **arguments)
