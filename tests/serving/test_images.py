"""Image decoding limits."""

import numpy as np
import pytest
from PIL import Image

from serving.errors import InvalidInputError
from serving.images import read_image

pytestmark = pytest.mark.backend_agnostic


def test_decompression_bomb_is_invalid_input(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (20000, 20000)).save(path)

    with pytest.raises(InvalidInputError, match="too large to decode"):
        read_image(path)


def test_npy_image_is_read_like_an_array(tmp_path):
    path = tmp_path / "face.npy"
    np.save(path, np.full((4, 3, 1), 51, np.uint8))

    image = read_image(path)

    assert image.shape == (4, 3, 1)
    assert image.dtype == np.float32
    np.testing.assert_allclose(image, 0.2)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "shape \\(4, 3\\)"),
        (b"\x93NUMPY\x01\x00v", "not a readable .npy image"),
        (b"", "not a readable .npy image"),
    ],
)
def test_bad_npy_image_is_invalid_input(tmp_path, content, message):
    path = tmp_path / "face.npy"
    if content is None:
        np.save(path, np.zeros((4, 3), np.float32))
    else:
        path.write_bytes(content)

    with pytest.raises(InvalidInputError, match=message):
        read_image(path)


def test_object_npy_is_not_unpickled(tmp_path):
    path = tmp_path / "face.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    with pytest.raises(InvalidInputError, match="not a readable .npy image"):
        read_image(path)


@pytest.mark.parametrize("shape", [(0, 0, 1), (0, 5, 3), (1, 0, 1), (2, 0, 4, 1)])
def test_image_without_pixels_is_invalid_input(shape):
    from serving.images import prepare_images

    with pytest.raises(InvalidInputError, match="at least 1 x 1 pixels"):
        prepare_images(np.zeros(shape, np.uint8), 112, 92, 1)
