"""Error messages for missing folders and corrupt files, on synthetic files."""

import gzip

import numpy as np
import pytest
import scipy.io

from recipes.data import load_fashion_mnist, load_olivetti, load_orl
from recipes.data.faces import read_pgm
from tests.data.fakes import idx_bytes, pgm_bytes, write_fashion, write_orl
from zoo.errors import CorruptFileError, DataNotFoundError

pytestmark = pytest.mark.backend_agnostic


def test_fashion_missing_folder(tmp_path):
    missing = tmp_path / "missing"

    with pytest.raises(DataNotFoundError) as caught:
        load_fashion_mnist(missing)

    message = str(caught.value)
    assert f"{missing} (the path argument)" in message
    assert f"{missing / 'fashion-mnist'} (the path argument)" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert "$ZOO_DATA_DIR" in message


def test_fashion_truncated_gzip(tmp_path):
    write_fashion(tmp_path)
    images_file = tmp_path / "train-images-idx3-ubyte.gz"
    content = images_file.read_bytes()
    images_file.write_bytes(content[: len(content) // 2])

    with pytest.raises(CorruptFileError) as caught:
        load_fashion_mnist(tmp_path)

    assert str(images_file) in str(caught.value)
    assert "not a complete gzip file" in str(caught.value)


def test_fashion_wrong_magic_number(tmp_path):
    write_fashion(tmp_path)
    labels_file = tmp_path / "train-labels-idx1-ubyte.gz"
    labels_file.write_bytes(gzip.compress(idx_bytes(np.zeros(6, np.uint8), 2051)))

    with pytest.raises(CorruptFileError) as caught:
        load_fashion_mnist(tmp_path)

    assert str(labels_file) in str(caught.value)
    assert "expected IDX magic number 2049, found 2051" in str(caught.value)


def test_fashion_length_differs_from_header(tmp_path):
    write_fashion(tmp_path)
    images_file = tmp_path / "train-images-idx3-ubyte.gz"
    content = idx_bytes(np.zeros((6, 28, 28), np.uint8), 2051)
    images_file.write_bytes(gzip.compress(content[:-10]))

    with pytest.raises(CorruptFileError) as caught:
        load_fashion_mnist(tmp_path)

    expected_bytes = 16 + 6 * 28 * 28
    assert f"expected {expected_bytes} bytes, found {expected_bytes - 10}" in str(caught.value)


def test_fashion_wrong_image_size(tmp_path):
    write_fashion(tmp_path)
    images_file = tmp_path / "train-images-idx3-ubyte.gz"
    images_file.write_bytes(gzip.compress(idx_bytes(np.zeros((6, 32, 32), np.uint8), 2051)))

    with pytest.raises(CorruptFileError, match="expected images of 28x28 pixels, found 32x32"):
        load_fashion_mnist(tmp_path)


def test_fashion_image_and_label_counts_differ(tmp_path):
    write_fashion(tmp_path)
    labels_file = tmp_path / "train-labels-idx1-ubyte.gz"
    labels_file.write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8), 2049)))

    with pytest.raises(CorruptFileError, match="has 6 images but .* has 5 labels"):
        load_fashion_mnist(tmp_path)


def test_fashion_from_synthetic_files(tmp_path):
    written = write_fashion(tmp_path)

    data = load_fashion_mnist(tmp_path, split="test")

    images, labels = written["test"]
    np.testing.assert_array_equal(np.round(data.images[..., 0] * 255).astype(np.uint8), images)
    np.testing.assert_array_equal(data.labels, labels)


def test_orl_from_synthetic_files(tmp_path):
    folder = write_orl(tmp_path / "att_faces")

    data = load_orl(tmp_path)

    assert data.source == str(folder)
    assert data.images.shape == (400, 112, 92, 1)
    # Photo M of person sN is filled with N + M: s2/3.pgm is index 12.
    assert data.labels[12] == 1
    assert data.photo_ids[12] == 3
    assert data.images[12].max() == pytest.approx(5 / 255)


def test_orl_missing_folder(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        load_orl(tmp_path / "missing")

    assert str(tmp_path / "missing" / "att_faces") in str(caught.value)
    assert "s1..s40" in str(caught.value)


def test_orl_missing_photo(tmp_path):
    folder = write_orl(tmp_path / "att_faces")
    (folder / "s5" / "7.pgm").unlink()

    with pytest.raises(DataNotFoundError) as caught:
        load_orl(folder)

    assert f"{folder / 's5' / '7.pgm'} is missing" in str(caught.value)


def test_orl_photo_of_wrong_size(tmp_path):
    folder = write_orl(tmp_path / "att_faces")
    wrong = folder / "s3" / "4.pgm"
    wrong.write_bytes(pgm_bytes(np.zeros((10, 12), np.uint8)))

    with pytest.raises(CorruptFileError) as caught:
        load_orl(folder)

    assert str(wrong) in str(caught.value)
    assert "expected 92x112 pixels (width x height), found 12x10" in str(caught.value)


def test_pgm_not_binary(tmp_path):
    ascii_pgm = tmp_path / "ascii.pgm"
    ascii_pgm.write_bytes(b"P2\n2 1\n255\n0 255\n")

    with pytest.raises(CorruptFileError) as caught:
        read_pgm(ascii_pgm)

    assert str(ascii_pgm) in str(caught.value)
    assert "starting with 'P5'" in str(caught.value)
    assert "found 'P2'" in str(caught.value)


def test_pgm_truncated_pixels(tmp_path):
    truncated = tmp_path / "truncated.pgm"
    truncated.write_bytes(pgm_bytes(np.zeros((4, 3), np.uint8))[:-2])

    with pytest.raises(CorruptFileError, match="expected 12 bytes of pixel data, found 10"):
        read_pgm(truncated)


def test_pgm_header_comments_and_16_bit(tmp_path):
    eight_bit = tmp_path / "eight.pgm"
    eight_bit.write_bytes(b"P5\n# a comment\n3 # width\n2\n# maxval next\n255\n" + bytes([0, 51, 255, 0, 0, 102]))
    sixteen_bit = tmp_path / "sixteen.pgm"
    sixteen_bit.write_bytes(b"P5 2 1 1000\n" + np.array([500, 1000], ">u2").tobytes())

    np.testing.assert_allclose(read_pgm(eight_bit), [[0, 0.2, 1], [0, 0, 0.4]], rtol=1e-6)
    np.testing.assert_allclose(read_pgm(sixteen_bit), [[0.5, 1.0]])


def test_olivetti_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        load_olivetti(tmp_path / "missing.mat")

    assert str(tmp_path / "missing.mat") in str(caught.value)


def test_olivetti_wrong_matrix(tmp_path):
    wrong = tmp_path / "olivettifaces.mat"
    scipy.io.savemat(wrong, {"faces": np.zeros((64, 64), np.uint8)})

    with pytest.raises(CorruptFileError) as caught:
        load_olivetti(tmp_path)

    assert str(wrong) in str(caught.value)
    assert "expected a 'faces' matrix of shape (4096, 400), found shape (64, 64)" in str(caught.value)
