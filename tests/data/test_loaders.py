"""The loaders on the real data sets: shapes, dtypes, ranges, labels, golden values."""

import numpy as np
import pytest

from recipes.data import (
    LabelledImages,
    load_digits,
    load_fashion_mnist,
    load_olivetti,
    load_orl,
    select,
    split_orl_identities,
)
from recipes.data import fashion_mnist
from zoo.errors import InvalidConfigError, InvalidInputError

pytestmark = [pytest.mark.backend_agnostic]


def _mirror_correlation(images):
    """Mean correlation of each image with its left-right mirror.

    Faces are close to left-right symmetric, so this is high only for
    upright faces.
    """
    centred = images[..., 0] - images[..., 0].mean(axis=(1, 2), keepdims=True)
    mirrored = centred[:, :, ::-1]
    products = (centred * mirrored).sum(axis=(1, 2))
    norms = np.sqrt((centred**2).sum(axis=(1, 2)) * (mirrored**2).sum(axis=(1, 2)))
    return float(np.mean(products / norms))


def _check_layout(data, shape, num_classes):
    assert isinstance(data, LabelledImages)
    assert data.images.shape == shape
    assert data.images.dtype == np.float32
    assert data.labels.dtype == np.int64
    assert data.labels.shape == (shape[0],)
    assert data.images.min() >= 0.0
    assert data.images.max() <= 1.0
    assert len(data.names) == num_classes
    assert data.labels.min() == 0
    assert data.labels.max() == num_classes - 1


@pytest.mark.needs_data
def test_fashion_mnist_train_split(fashion_dir):
    data = load_fashion_mnist(fashion_dir, split="train")

    _check_layout(data, (60000, 28, 28, 1), 10)
    assert data.photo_ids is None
    assert data.source == str(fashion_dir)
    assert data.names[0] == "T-shirt/top"
    assert data.names[9] == "Ankle boot"
    assert np.bincount(data.labels).tolist() == [6000] * 10
    assert data.labels[0] == 9
    assert int(np.round(data.images[0] * 255).sum()) == 76247


@pytest.mark.needs_data
def test_fashion_mnist_test_split(fashion_dir):
    data = load_fashion_mnist(fashion_dir, split="test")

    _check_layout(data, (10000, 28, 28, 1), 10)
    assert np.bincount(data.labels).tolist() == [1000] * 10
    assert data.labels[0] == 9
    assert int(np.round(data.images[0] * 255).sum()) == 33456


@pytest.mark.needs_data
def test_fashion_mnist_cached_per_process(fashion_dir):
    first = load_fashion_mnist(fashion_dir, split="test")
    hits = fashion_mnist._read_split.cache_info().hits

    second = load_fashion_mnist(fashion_dir, split="test")

    assert fashion_mnist._read_split.cache_info().hits == hits + 1
    # Each call returns its own float array, so a caller may change it.
    second.images[0] = 0.0
    assert first.images[0].sum() > 0


def test_fashion_mnist_unknown_split(tmp_path):
    with pytest.raises(InvalidConfigError, match="split must be one of"):
        load_fashion_mnist(tmp_path, split="validation")


@pytest.mark.needs_data
def test_orl_layout_and_golden_values(orl_dir):
    data = load_orl(orl_dir)

    _check_layout(data, (400, 112, 92, 1), 40)
    assert data.names[0] == "s1"
    assert data.names[39] == "s40"
    assert data.source == str(orl_dir)
    assert data.photo_ids.dtype == np.int64
    assert data.photo_ids[:10].tolist() == list(range(1, 11))
    assert np.bincount(data.labels).tolist() == [10] * 40

    # s1/1.pgm and s40/10.pgm.
    assert data.images[0].mean() == pytest.approx(0.503287, abs=1e-5)
    assert data.images[0, 0, 0, 0] == pytest.approx(48 / 255)
    assert data.images[-1].mean() == pytest.approx(0.462605, abs=1e-5)
    assert _mirror_correlation(data.images) > 0.5


@pytest.mark.needs_data
def test_orl_data_root_as_path(data_root, orl_dir):
    data = load_orl(data_root)

    assert data.source == str(orl_dir)
    assert data.images.shape == (400, 112, 92, 1)


@pytest.mark.needs_data
def test_olivetti_layout_and_orientation(olivetti_file):
    data = load_olivetti(olivetti_file)

    _check_layout(data, (400, 64, 64, 1), 40)
    assert data.source == str(olivetti_file)
    assert data.labels[:12].tolist() == [0] * 10 + [1, 1]
    assert data.photo_ids[:12].tolist() == list(range(1, 11)) + [1, 2]
    assert data.images[0].mean() == pytest.approx(0.604380, abs=1e-5)
    assert data.images.max() == pytest.approx(242 / 255)

    # Column-major images: upright faces are left-right symmetric, their
    # transposes are not.
    upright = _mirror_correlation(data.images)
    transposed = _mirror_correlation(data.images.transpose(0, 2, 1, 3))
    assert upright > 0.45
    assert transposed < 0.25


def test_digits_offline():
    data = load_digits()

    _check_layout(data, (1797, 8, 8, 1), 10)
    assert data.images.max() == 1.0
    assert data.images.mean() == pytest.approx(0.305260, abs=1e-5)
    assert data.labels[:5].tolist() == [0, 1, 2, 3, 4]
    assert data.source == "sklearn.datasets.load_digits"


@pytest.mark.needs_data
def test_split_orl_identities(orl_dir):
    faces = load_orl(orl_dir)

    splits = split_orl_identities(faces, train_people=30)

    assert sorted(splits) == ["enrol", "held_out", "probes", "train"]
    assert len(splits["train"]) == 300
    assert set(splits["train"].labels.tolist()) == set(range(30))
    assert len(splits["held_out"]) == 100
    assert set(splits["held_out"].labels.tolist()) == set(range(30, 40))
    assert len(splits["enrol"]) == 120
    assert set(splits["enrol"].photo_ids.tolist()) == {1, 2, 3}
    assert set(splits["enrol"].labels.tolist()) == set(range(40))
    assert len(splits["probes"]) == 70
    assert set(splits["probes"].photo_ids.tolist()) == set(range(4, 11))
    assert set(splits["probes"].labels.tolist()) == set(range(30, 40))
    assert splits["probes"].names == faces.names
    np.testing.assert_array_equal(splits["held_out"].images[0], faces.images[300])


def _tiny_faces(people=4, photos=3):
    count = people * photos
    return LabelledImages(
        images=np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1) / count,
        labels=np.repeat(np.arange(people, dtype=np.int64), photos),
        names=[f"s{person}" for person in range(1, people + 1)],
        source="synthetic",
        photo_ids=np.tile(np.arange(1, photos + 1, dtype=np.int64), people),
    )


def test_split_rejects_bad_arguments():
    faces = _tiny_faces()

    with pytest.raises(InvalidConfigError, match="train_people must be in 1..3"):
        split_orl_identities(faces, train_people=4)
    with pytest.raises(InvalidConfigError, match="enrol_photos must be in 1..2"):
        split_orl_identities(faces, train_people=2, enrol_photos=3)
    without_ids = select(faces, np.arange(len(faces)))
    without_ids.photo_ids = None
    with pytest.raises(InvalidInputError, match="needs photo ids"):
        split_orl_identities(without_ids)


def test_select_by_mask_and_indices():
    faces = _tiny_faces()

    by_mask = select(faces, faces.labels == 2)
    by_indices = select(faces, np.array([7, 6]))

    assert by_mask.labels.tolist() == [2, 2, 2]
    assert by_mask.photo_ids.tolist() == [1, 2, 3]
    assert by_mask.names == faces.names
    assert by_indices.labels.tolist() == [2, 2]
    assert by_indices.photo_ids.tolist() == [2, 1]
    with pytest.raises(InvalidInputError, match=r"must have shape \(12,\)"):
        select(faces, np.ones(5, dtype=bool))


def test_labelled_images_rejects_wrong_dtypes():
    with pytest.raises(InvalidInputError, match="float32"):
        LabelledImages(np.zeros((2, 1, 1, 1)), np.zeros(2, np.int64), ["a"], "synthetic")
    with pytest.raises(InvalidInputError, match="int64"):
        LabelledImages(np.zeros((2, 1, 1, 1), np.float32), np.zeros(3, np.int64), ["a"], "synthetic")
