"""The embedder under the `mixed_bfloat16` policy against float32."""

import keras
import numpy as np
import pytest

from recipes.runner import scaled_training
from zoo.errors import InvalidConfigError
from zoo.metric import build_embedder

# bfloat16 keeps 8 significant bits (relative rounding up to 2**-8, about
# 4e-3) per operation. Measured on this network: max difference 1.7e-3 to
# 2.6e-3 and min cosine 0.99998 under tensorflow, jax and torch (CPU).
MAX_DIFFERENCE = 1e-2
MIN_COSINE = 0.999


def embed(policy_name, weights, images):
    with scaled_training(mixed_precision=policy_name):
        embedder = build_embedder(input_shape=(28, 23, 1), embedding_dim=32, widths=(8, 16, 32))
        if weights is not None:
            embedder.set_weights(weights)
        return embedder, keras.ops.convert_to_numpy(embedder(images, training=False))


def test_bfloat16_embeddings_match_float32():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(16, 28, 23, 1)).astype("float32")

    reference_model, reference = embed(None, None, images)
    mixed_model, mixed = embed("bfloat16", reference_model.get_weights(), images)

    assert mixed_model.layers[1].compute_dtype == "bfloat16"
    assert mixed.dtype == np.float32
    cosines = np.sum(mixed * reference, axis=1)
    assert np.abs(mixed - reference).max() < MAX_DIFFERENCE
    assert cosines.min() > MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)


def test_policy_restored_after_block():
    before = keras.config.dtype_policy().name
    with scaled_training(mixed_precision="bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"

    assert keras.config.dtype_policy().name == before


def test_unknown_precision_rejected():
    with pytest.raises(InvalidConfigError, match="bfloat16"):
        with scaled_training(mixed_precision="int8"):
            pass


def test_float16_rejected_with_alternative():
    with pytest.raises(InvalidConfigError, match="bfloat16"):
        with scaled_training(mixed_precision="float16"):
            pass
