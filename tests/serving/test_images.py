"""Image decoding limits."""

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
