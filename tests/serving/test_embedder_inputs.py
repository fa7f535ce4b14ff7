"""`Embedder.embed` input forms: (H, W) grey arrays, (N, H, W) grey batches, clear errors."""

import numpy as np
import pytest

from serving import Embedder
from serving.errors import InvalidInputError
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def embedder(embedder_path):
    return Embedder(embedder_path, providers=CPU)


@pytest.fixture(scope="module")
def grey():
    return np.random.default_rng(5).random((3, tiny_models.HEIGHT, tiny_models.WIDTH)).astype(np.float32)


def test_list_of_grey_arrays(embedder, grey):
    expected = tiny_models.embed_numpy(grey[..., None])

    embeddings = embedder.embed([image for image in grey])

    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def test_grey_batch_without_channel_axis(embedder, grey):
    expected = tiny_models.embed_numpy(grey[..., None])

    np.testing.assert_allclose(embedder.embed(grey), expected, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(grey[0]), expected[:1], atol=1e-5)


def test_three_channel_image_stays_image(embedder):
    image = np.full((tiny_models.HEIGHT, tiny_models.WIDTH, 3), 0.5, np.float32)

    assert embedder.embed(image).shape == (1, tiny_models.EMBEDDING_DIM)


def test_bad_arrays_still_rejected(embedder):
    with pytest.raises(InvalidInputError, match="received an array of shape"):
        embedder.embed(np.zeros((2, 2, 8, 8, 1), np.float32))
    with pytest.raises(InvalidInputError, match="received an array of shape"):
        embedder.embed([np.zeros(8, np.float32)])
