"""The LBP descriptor, its whitening, and the embedder that joins them to a learned one."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.errors import InvalidConfigError, InvalidInputError
from zoo.metric.embedder import build_embedder
from zoo.metric.local_patterns import (
    NEIGHBOURS,
    NUM_BINS,
    LocalBinaryPatterns,
    Whitening,
    add_local_patterns,
    uniform_pattern_bins,
)

# Measured with the whitening fitted on s1-s30 and 150 components: AUC
# 0.924 on all pairs of s31-s40.
HELD_OUT_AUC_FLOOR = 0.9


def reference_histograms(image, grid):
    """The LBP histograms of one (H, W) image, pixel by pixel, for comparison."""
    bins = uniform_pattern_bins()
    height, width = image.shape
    codes = np.zeros((height - 2, width - 2), dtype=np.int64)
    for row in range(1, height - 1):
        for column in range(1, width - 1):
            for bit, (dy, dx) in enumerate(NEIGHBOURS):
                if image[row + dy, column + dx] >= image[row, column]:
                    codes[row - 1, column - 1] += 1 << bit
    histograms = []
    for rows in np.array_split(np.arange(height - 2), grid[0]):
        for columns in np.array_split(np.arange(width - 2), grid[1]):
            cell = bins[codes[np.ix_(rows, columns)]].ravel()
            histograms.append(np.bincount(cell, minlength=NUM_BINS) / cell.size)
    return np.sqrt(np.concatenate(histograms))


def test_uniform_bins():
    bins = uniform_pattern_bins()

    assert NUM_BINS == 59
    assert np.sum(bins < 58) == 58, "8-bit codes with at most 2 changes: 2 + 8 * 7"
    assert bins[0] == 0
    assert bins[255] == 57
    # 0b00001101 changes 4 times around the circle.
    assert bins[0b00001101] == 58


def test_one_pixel_codes():
    # Bits 0, 2 and 3 (top left, top right, right) are set: code 13, not uniform.
    image = np.array([[0.9, 0.1, 0.9], [0.1, 0.5, 0.9], [0.1, 0.1, 0.1]], dtype="float32")
    # The centre is the darkest pixel, so every neighbour sets its bit: code 255.
    dark_centre = np.full((3, 3), 0.8, dtype="float32")
    dark_centre[1, 1] = 0.2

    layer = LocalBinaryPatterns(grid=(1, 1))
    output = ops.convert_to_numpy(layer(np.stack([image, dark_centre])[..., None]))

    assert output.shape == (2, NUM_BINS)
    np.testing.assert_array_equal(output[0], np.eye(NUM_BINS)[58])
    np.testing.assert_array_equal(output[1], np.eye(NUM_BINS)[57])


def test_matches_pixel_loop():
    # Quantized values make ties (neighbour == centre) common, as in 8-bit photos.
    images = np.random.default_rng(0).integers(0, 4, size=(2, 13, 11, 1)).astype("float32") / 3

    output = ops.convert_to_numpy(LocalBinaryPatterns(grid=(3, 2))(images))

    for image, histograms in zip(images, output):
        np.testing.assert_allclose(histograms, reference_histograms(image[..., 0], (3, 2)), atol=1e-6)


def test_codes_ignore_brightness_and_contrast():
    images = np.random.default_rng(1).uniform(0.2, 0.6, size=(3, 20, 16, 1)).astype("float32")
    layer = LocalBinaryPatterns(grid=(2, 2))

    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer(images)), ops.convert_to_numpy(layer(0.5 * images + 0.25))
    )


def test_whitening_gives_unit_covariance():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
    whitening = Whitening(4)

    whitening.adapt(features)
    whitened = ops.convert_to_numpy(whitening(features.astype("float32")))

    assert whitened.shape == (500, 4)
    np.testing.assert_allclose(whitened.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(4), atol=1e-4)
    # The kept axes are those of the largest variance.
    variances = np.linalg.eigvalsh(np.cov(features, rowvar=False))[::-1]
    projection = ops.convert_to_numpy(whitening.projection)
    np.testing.assert_allclose(1 / np.linalg.norm(projection, axis=0) ** 2, variances[:4], rtol=1e-3)


def test_whitening_floors_axes_without_variance():
    # The third feature copies the first, so one principal axis has no variance.
    base = np.random.default_rng(7).normal(size=(50, 2))
    features = np.concatenate([base, base[:, :1]], axis=1)
    whitening = Whitening(3)

    whitening.adapt(features)

    scales = np.linalg.norm(ops.convert_to_numpy(whitening.projection), axis=0)
    largest_std = np.sqrt(np.linalg.eigvalsh(np.cov(features, rowvar=False))[-1])
    np.testing.assert_allclose(scales[2], 1 / (1e-3 * largest_std), rtol=1e-3)


def test_whitening_rejects_identical_rows():
    with pytest.raises(InvalidInputError, match="all the same"):
        Whitening(2).adapt(np.ones((5, 4)))


def joined_embedder(mirror_average, weight=0.5, components=5):
    embedder = build_embedder((14, 12, 1), embedding_dim=4, widths=(2,), mirror_average=mirror_average)
    images = np.random.default_rng(3).uniform(size=(8, 14, 12, 1)).astype("float32")
    return embedder, add_local_patterns(embedder, images, weight=weight, grid=(2, 2), components=components)


def test_weight_sets_the_descriptor_share():
    embedder, joined = joined_embedder(mirror_average=False, weight=0.5)
    images = np.random.default_rng(4).uniform(size=(2, 14, 12, 1)).astype("float32")

    learned = embedder.predict(images, verbose=0)
    descriptor_model = keras.Model(joined.input, joined.get_layer("local_patterns_normalization").output)
    descriptor = descriptor_model.predict(images, verbose=0)
    output = joined.predict(images, verbose=0)

    assert output.shape == (2, 4 + 5)
    np.testing.assert_allclose(np.linalg.norm(output, axis=1), 1.0, rtol=1e-5)
    # Both parts have unit norm, so the joined vector is [c, w * d] / sqrt(1 + w^2).
    expected = np.concatenate([learned, 0.5 * descriptor], axis=1) / np.sqrt(1 + 0.5**2)
    np.testing.assert_allclose(output, expected, atol=1e-6)


def test_mirror_views_and_round_trip(tmp_path):
    _, joined = joined_embedder(mirror_average=True)
    images = np.random.default_rng(5).uniform(size=(3, 14, 12, 1)).astype("float32")

    output = joined.predict(images, verbose=0)
    mirrored = joined.predict(images[:, :, ::-1], verbose=0)
    joined.save(tmp_path / "joined.keras")
    loaded = keras.saving.load_model(tmp_path / "joined.keras")

    np.testing.assert_allclose(output, mirrored, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), output)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: LocalBinaryPatterns(grid=(0, 3)), "positive integers"),
        (lambda: LocalBinaryPatterns(grid=(7,)), "grid=\\(rows, columns\\)"),
        (lambda: LocalBinaryPatterns(grid=(7, 6))(np.zeros((1, 8, 8, 1), "float32")), "at least 9 x 8"),
        (lambda: Whitening(0), "components >= 1"),
        (lambda: Whitening(3)(np.zeros((1, 2), "float32")), "at least that many input features"),
        (lambda: joined_embedder(mirror_average=False, weight=-1.0), "finite number > 0"),
        (lambda: joined_embedder(mirror_average=False, weight=float("nan")), "finite number > 0"),
        (lambda: joined_embedder(mirror_average=False, weight="1"), "finite number > 0"),
        (lambda: joined_embedder(mirror_average=False, components="5"), "components >= 1"),
        (lambda: LocalBinaryPatterns(grid=7), "positive integers"),
        (lambda: LocalBinaryPatterns(grid=("7", 6)), "positive integers"),
        (lambda: LocalBinaryPatterns(grid=(True, 2)), "positive integers"),
        (lambda: Whitening("3"), "components >= 1"),
        (lambda: Whitening(None), "components >= 1"),
        (lambda: Whitening(True), "components >= 1"),
    ],
)
def test_bad_settings(build, message):
    with pytest.raises(InvalidConfigError, match=message):
        build()


def test_layer_follows_each_call_size():
    # Cell edges kept from the first size would leave cells of a smaller image empty (NaN).
    rng = np.random.default_rng(7)
    layer = LocalBinaryPatterns(grid=(3, 2))
    layer(rng.uniform(size=(1, 20, 16, 1)).astype("float32"))

    for shape in [(13, 11), (30, 25)]:
        image = (rng.integers(0, 4, size=(1, *shape, 1)) / 3).astype("float32")
        output = ops.convert_to_numpy(layer(image))
        np.testing.assert_allclose(output[0], reference_histograms(image[0, ..., 0], (3, 2)), atol=1e-6)


@pytest.mark.parametrize("shape", [(14, 12), (14, 12, 1)])
def test_images_without_batch_axis_rejected(shape):
    with pytest.raises(InvalidInputError, match="expects images \\(B, H, W, C\\)"):
        LocalBinaryPatterns(grid=(2, 2))(np.zeros(shape, "float32"))


def test_unknown_image_size_rejected():
    with pytest.raises(InvalidInputError, match="known height and width"):
        LocalBinaryPatterns(grid=(2, 2))(keras.Input((None, None, 1)))


def test_join_without_training_images_rejected():
    embedder = build_embedder((14, 12, 1), embedding_dim=4, widths=(2,))

    with pytest.raises(InvalidInputError, match="N >= 1"):
        add_local_patterns(embedder, np.zeros((0, 14, 12, 1), "float32"), grid=(2, 2), components=5)


def test_components_lowered_to_sample_rank(caplog):
    # 3 images and their mirrors give 6 samples, so a covariance of rank 5 at most.
    embedder = build_embedder((14, 12, 1), embedding_dim=4, widths=(2,))
    images = np.random.default_rng(8).uniform(size=(3, 14, 12, 1)).astype("float32")

    joined = add_local_patterns(embedder, images, grid=(2, 2), components=50)

    assert joined.output_shape == (None, 4 + 5)
    assert "from 50 to 5" in caplog.text


def test_bad_whitening_data():
    whitening = Whitening(3)

    with pytest.raises(InvalidInputError, match="N >= components \\+ 1 = 4"):
        whitening.adapt(np.zeros((3, 5)))
    features = np.random.default_rng(6).normal(size=(10, 5))
    features[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        whitening.adapt(features)
    whitening.adapt(np.nan_to_num(features))
    with pytest.raises(InvalidInputError, match="built for 5 features per row. Received: 7"):
        whitening.adapt(np.zeros((10, 7)))


@pytest.mark.needs_data
def test_descriptor_verifies_held_out_people(orl_dir):
    from recipes.data import load_orl, split_orl_identities
    from zoo.metric.evaluation import verification

    split = split_orl_identities(load_orl(orl_dir))
    patterns = LocalBinaryPatterns(grid=(7, 6))
    whitening = Whitening(150)

    train_images = split["train"].images
    whitening.adapt(ops.convert_to_numpy(patterns(np.concatenate([train_images, train_images[:, :, ::-1]]))))
    held_out = ops.convert_to_numpy(whitening(patterns(split["held_out"].images)))
    held_out /= np.linalg.norm(held_out, axis=1, keepdims=True)

    auc = verification(held_out, split["held_out"].labels)["auc"]
    assert auc > HELD_OUT_AUC_FLOOR, f"held-out AUC {auc:.3f}"
