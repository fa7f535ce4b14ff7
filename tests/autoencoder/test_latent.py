"""Latent-space tools: golden values for paths and arithmetic, bad inputs."""

import keras
import numpy as np
import pytest

from zoo import latent
from zoo.errors import InvalidConfigError, InvalidInputError


def test_slerp_midpoint_of_orthogonal_units():
    path = latent.slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), steps=3)

    np.testing.assert_allclose(path[1], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(path[0], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(path[2], [0.0, 1.0], atol=1e-6)


def test_slerp_keeps_norm_where_lerp_shrinks():
    start, end = np.array([3.0, 0.0, 0.0]), np.array([0.0, 0.0, 3.0])

    spherical = latent.slerp(start, end, steps=7)
    linear = latent.lerp(start, end, steps=7)

    np.testing.assert_allclose(np.linalg.norm(spherical, axis=1), 3.0, atol=1e-5)
    np.testing.assert_allclose(linear[3], [1.5, 0.0, 1.5], atol=1e-6)


def test_slerp_near_parallel_falls_back_to_lerp():
    start = np.array([1.0, 2.0, 3.0])
    end = start * 2.0 + 1e-7

    spherical = latent.slerp(start, end, steps=5)

    assert np.all(np.isfinite(spherical))
    np.testing.assert_allclose(spherical, latent.lerp(start, end, steps=5), atol=1e-5)


def test_slerp_rejects_zero_vector():
    with pytest.raises(InvalidInputError, match="non-zero"):
        latent.slerp(np.zeros(2), np.ones(2), steps=3)


def test_attribute_arithmetic_golden():
    with_attribute = np.array([[1.0, 2.0], [3.0, 4.0]])
    without_attribute = np.array([[0.0, 1.0]])

    vector = latent.attribute_vector(with_attribute, without_attribute)
    moved = latent.apply_attribute(np.array([[10.0, 10.0]]), vector, scale=0.5)

    np.testing.assert_allclose(vector, [2.0, 2.0])
    np.testing.assert_allclose(moved, [[11.0, 11.0]])


def test_nearest_neighbours_golden():
    bank = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [10.0, 10.0]])

    indices, distances = latent.nearest_neighbours(np.array([[0.9, 0.1]]), bank, k=3)

    np.testing.assert_array_equal(indices, [[2, 0, 1]])
    np.testing.assert_allclose(distances[0], [np.sqrt(0.02), np.sqrt(0.82), np.sqrt(2.1**2 + 3.9**2)], rtol=1e-4)


def test_sample_prior_shape_and_seed():
    first = latent.sample_prior(500, 4, seed=3)

    assert first.shape == (500, 4)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, latent.sample_prior(500, 4, seed=3))
    assert abs(first.mean()) < 0.1
    assert abs(first.std() - 1.0) < 0.1


def test_decode_and_encode_check_sizes():
    z = keras.Input((4,), name="z")
    decoder = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4, activation="sigmoid")(z)))
    images = keras.Input((2, 2, 1), name="images")
    encoder = keras.Model(images, keras.layers.Dense(4)(keras.layers.Flatten()(images)))

    decoded = latent.decode(decoder, latent.sample_prior(3, 4))
    encoded = latent.encode(encoder, decoded)

    assert decoded.shape == (3, 2, 2, 1)
    assert encoded.shape == (3, 4)
    with pytest.raises(InvalidInputError, match=r"shape \(n, 4\)"):
        latent.decode(decoder, np.zeros((2, 5)))
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        latent.decode(decoder, np.array([[0.0, np.inf, 0.0, 0.0]]))
    with pytest.raises(InvalidInputError, match=r"images of shape \(n, 2, 2, 1\)"):
        latent.encode(encoder, np.zeros((1, 3, 3, 1)))


def test_latent_tools_reject_bad_inputs():
    with pytest.raises(InvalidInputError, match=r"shape \(n, 2\)"):
        latent.lerp(np.zeros(2), np.zeros(3), steps=3)
    with pytest.raises(InvalidConfigError, match="steps"):
        latent.lerp(np.zeros(2), np.ones(2), steps=1)
    with pytest.raises(InvalidInputError, match=r"shape \(n, 2\)"):
        latent.apply_attribute(np.zeros((4, 3)), np.ones(2))
    with pytest.raises(InvalidConfigError, match="k must be"):
        latent.nearest_neighbours(np.zeros((1, 2)), np.zeros((2, 2)), k=3)
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        latent.attribute_vector(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))
