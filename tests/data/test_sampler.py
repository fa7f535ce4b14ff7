"""P x K batches and augmentation, in numpy."""

import numpy as np
import pytest

from recipes.data import AugmentConfig, LabelledImages, PKSampler, augment
from zoo.errors import InvalidConfigError, InvalidInputError

pytestmark = pytest.mark.backend_agnostic


def _indexed_images(counts):
    """Images whose single pixel stores their own index, with `counts[c]` images of class c."""
    labels = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    images = np.arange(len(labels), dtype=np.float32).reshape(-1, 1, 1, 1)
    return LabelledImages(images, labels, [str(label) for label in range(len(counts))], "synthetic")


def _image_indices(x):
    return x[:, 0, 0, 0].astype(int)


def test_batch_composition():
    data = _indexed_images([6] * 8)
    sampler = PKSampler(data, p=4, k=3, steps_per_epoch=5, seed=1)

    assert len(sampler) == 5
    for index in range(len(sampler)):
        x, y = sampler[index]
        assert x.dtype == np.float32
        assert x.shape == (12, 1, 1, 1)
        assert y.dtype == np.int32
        assert y.shape == (12,)

        groups = y.reshape(4, 3)
        assert len(set(groups[:, 0].tolist())) == 4
        assert (groups == groups[:, :1]).all()
        # Each image belongs to its label, and no image repeats within a
        # label because every class has at least K images.
        np.testing.assert_array_equal(data.labels[_image_indices(x)], y)
        for group in _image_indices(x).reshape(4, 3):
            assert len(set(group.tolist())) == 3


def test_small_classes_sampled_with_replacement():
    data = _indexed_images([2, 2, 2])
    sampler = PKSampler(data, p=3, k=5, steps_per_epoch=1, seed=0)

    x, y = sampler[0]

    assert np.bincount(y).tolist() == [5, 5, 5]
    np.testing.assert_array_equal(data.labels[_image_indices(x)], y)


def test_deterministic_per_seed_and_epoch():
    data = _indexed_images([5] * 10)
    first = PKSampler(data, p=3, k=2, steps_per_epoch=4, seed=7)
    second = PKSampler(data, p=3, k=2, steps_per_epoch=4, seed=7)
    other_seed = PKSampler(data, p=3, k=2, steps_per_epoch=4, seed=8)

    epoch_0 = [first[index][0] for index in range(4)]
    for index in range(4):
        np.testing.assert_array_equal(second[index][0], epoch_0[index])
    assert any(not np.array_equal(other_seed[i][0], epoch_0[i]) for i in range(4))

    first.on_epoch_end()
    epoch_1 = [first[index][0] for index in range(4)]
    assert any(not np.array_equal(epoch_1[i], epoch_0[i]) for i in range(4))
    second.on_epoch_end()
    for index in range(4):
        np.testing.assert_array_equal(second[index][0], epoch_1[index])


def test_sampler_rejects_bad_arguments():
    data = _indexed_images([3, 3])

    with pytest.raises(InvalidConfigError, match=r"at most the number of identities in the data \(2\)"):
        PKSampler(data, p=3, k=2, steps_per_epoch=1)
    with pytest.raises(InvalidConfigError, match="k must be a positive integer"):
        PKSampler(data, p=2, k=0, steps_per_epoch=1)
    with pytest.raises(IndexError):
        PKSampler(data, p=2, k=2, steps_per_epoch=1)[1]


def test_sampler_augments_reproducibly():
    data = LabelledImages(
        np.random.default_rng(0).random((20, 8, 8, 1), dtype=np.float32),
        np.repeat(np.arange(4, dtype=np.int64), 5),
        ["a", "b", "c", "d"],
        "synthetic",
    )
    config = AugmentConfig(max_shift=2, flip_probability=0.5, brightness=0.1, contrast=0.2)
    plain = PKSampler(data, p=2, k=2, steps_per_epoch=1, seed=3)
    augmented = PKSampler(data, p=2, k=2, steps_per_epoch=1, augment=config, seed=3)
    again = PKSampler(data, p=2, k=2, steps_per_epoch=1, augment=config, seed=3)

    np.testing.assert_array_equal(plain[0][1], augmented[0][1])
    assert not np.allclose(plain[0][0], augmented[0][0])
    np.testing.assert_array_equal(augmented[0][0], again[0][0])


def test_augment_shift_moves_pixels_within_limit():
    images = np.zeros((50, 9, 9, 1), np.float32)
    images[:, 4, 4, 0] = 1.0

    shifted = augment(images, np.random.default_rng(0), AugmentConfig(max_shift=2))

    bright = np.array([np.unravel_index(image[..., 0].argmax(), (9, 9)) for image in shifted])
    assert (np.abs(bright - 4) <= 2).all()
    assert len({tuple(position) for position in bright.tolist()}) > 5
    np.testing.assert_allclose(shifted.sum(axis=(1, 2, 3)), 1.0)


def test_augment_flip_and_jitter():
    rng = np.random.default_rng(0)
    images = 0.3 + 0.4 * rng.random((30, 6, 6, 1), dtype=np.float32)

    flipped = augment(images, np.random.default_rng(1), AugmentConfig(flip_probability=1.0))
    brighter = augment(images, np.random.default_rng(1), AugmentConfig(brightness=0.2))
    contrasted = augment(images, np.random.default_rng(1), AugmentConfig(contrast=0.5))
    repeated = augment(images, np.random.default_rng(1), AugmentConfig(contrast=0.5))

    np.testing.assert_array_equal(flipped, images[:, :, ::-1])
    deltas = (brighter - images).reshape(30, -1)
    np.testing.assert_allclose(deltas, deltas[:, :1].repeat(36, axis=1), atol=1e-6)
    assert np.abs(deltas).max() <= 0.2
    ratios = contrasted.std(axis=(1, 2, 3)) / images.std(axis=(1, 2, 3))
    assert ratios.min() >= 0.5 - 1e-4
    assert ratios.max() <= 1.5 + 1e-4
    np.testing.assert_allclose(contrasted.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)), atol=1e-5)
    np.testing.assert_array_equal(contrasted, repeated)


def test_augment_clips_to_unit_range():
    images = np.random.default_rng(0).random((10, 5, 5, 3), dtype=np.float32)
    config = AugmentConfig(max_shift=1, flip_probability=0.5, brightness=1.0, contrast=1.0)

    augmented = augment(images, np.random.default_rng(0), config)

    assert augmented.dtype == np.float32
    assert augmented.shape == images.shape
    assert augmented.min() >= 0.0
    assert augmented.max() <= 1.0


def test_augment_rejects_bad_config():
    with pytest.raises(InvalidConfigError, match="flip_probability must be in"):
        AugmentConfig(flip_probability=1.5)
    with pytest.raises(InvalidConfigError, match="max_shift must be a non-negative integer"):
        AugmentConfig(max_shift=-1)
    with pytest.raises(InvalidInputError, match="smaller than the image height and width"):
        augment(np.zeros((1, 3, 3, 1), np.float32), np.random.default_rng(0), AugmentConfig(max_shift=3))
