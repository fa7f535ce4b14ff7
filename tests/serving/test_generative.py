"""Encoder, Decoder, Translator and grids against numpy golden values."""

import numpy as np
import pytest
from PIL import Image

from serving import Decoder, Encoder, Translator, interpolate_latents, make_grid, reconstruct, save_grid
from serving.errors import InvalidInputError, InvalidModelError
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]
LATENT = tiny_models.LATENT_DIM


@pytest.fixture(scope="module")
def decoder(decoder_path):
    return Decoder(decoder_path, providers=CPU, batch_size=3)


def test_decode_matches_numpy(decoder):
    z = np.random.default_rng(0).standard_normal((7, LATENT)).astype(np.float32)
    images = decoder.decode(z)

    assert images.shape == (7, 8, 8, 1)
    np.testing.assert_allclose(images, tiny_models.decode_numpy(z), atol=1e-5)
    np.testing.assert_allclose(decoder.decode(z[0]), images[:1], atol=1e-6)


def test_sample_uses_seeded_normal(decoder):
    expected_z = np.random.default_rng(3).standard_normal((4, LATENT))

    np.testing.assert_allclose(decoder.sample_latents(4, seed=3), expected_z, atol=1e-6)
    np.testing.assert_allclose(decoder.sample(4, seed=3), tiny_models.decode_numpy(expected_z), atol=1e-5)
    assert not np.allclose(decoder.sample(4, seed=3), decoder.sample(4, seed=4))


def test_generator_task_accepted(model_dir):
    generator = Decoder(model_dir / "generator.onnx", providers=CPU)
    assert generator.sample(2).shape == (2, 8, 8, 1)


def test_latent_errors(decoder):
    with pytest.raises(InvalidInputError, match=r"\(N, 4\).*received shape \(2, 5\)"):
        decoder.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(InvalidInputError, match=r"non-finite.*shape \(N, 4\)"):
        decoder.decode(np.array([[0.0, np.nan, 0.0, 0.0]], np.float32))
    with pytest.raises(InvalidInputError, match="non-finite"):
        decoder.decode(np.array([[0.0, np.inf, 0.0, 0.0]], np.float32))
    with pytest.raises(InvalidInputError, match="numbers"):
        decoder.decode(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(InvalidInputError, match="fit in float32"):
        decoder.decode(np.array([[0.0, 1e300, 0.0, 0.0]]))


def test_decoder_output_out_of_range(model_dir):
    overshoot = Decoder(model_dir / "decoder_overshoot.onnx", providers=CPU)
    with pytest.raises(InvalidModelError, match=r"expected \[0, 1\]"):
        overshoot.decode(np.zeros((1, LATENT), np.float32))


def test_interpolate_linear_and_slerp():
    z0 = np.array([1.0, 0.0, 0.0, 0.0])
    z1 = np.array([0.0, 2.0, 0.0, 0.0])

    linear = interpolate_latents(z0, z1, 3, "linear")
    np.testing.assert_allclose(linear, [z0, [0.5, 1.0, 0.0, 0.0], z1], atol=1e-6)

    slerp = interpolate_latents(z0, z1, 3, "slerp")
    # omega = 90 degrees, so the midpoint weights are sin(45)/sin(90) each.
    half = np.sin(np.pi / 4)
    np.testing.assert_allclose(slerp, [z0, [half, 2 * half, 0.0, 0.0], z1], atol=1e-6)

    parallel = interpolate_latents(z0, 3 * z0, 3, "slerp")
    np.testing.assert_allclose(parallel[1], 2 * z0, atol=1e-6)

    with pytest.raises(InvalidInputError, match="at least 2"):
        interpolate_latents(z0, z1, 1)
    with pytest.raises(InvalidInputError, match="method"):
        interpolate_latents(z0, z1, 3, "cubic")


def test_decoder_interpolate_ends(decoder):
    z = decoder.sample_latents(2, seed=9)
    strip = decoder.interpolate(z[0], z[1], steps=5, method="slerp")

    assert strip.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(strip[0], tiny_models.decode_numpy(z[:1])[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], tiny_models.decode_numpy(z[1:])[0], atol=1e-5)
    with pytest.raises(InvalidInputError, match=r"\(N, 4\)"):
        decoder.interpolate(np.zeros(3), z[1])


def test_encoders_and_reconstruct(model_dir, decoder):
    images = np.random.default_rng(1).random((3, 8, 8, 1)).astype(np.float32)
    expected_z = tiny_models.encode_numpy(images)

    encoder = Encoder(model_dir / "encoder.onnx", providers=CPU)
    np.testing.assert_allclose(encoder.encode(images), expected_z, atol=1e-5)
    with pytest.raises(InvalidModelError, match="VAE"):
        encoder.encode_distribution(images)

    vae = Encoder(model_dir / "vae_encoder.onnx", providers=CPU)
    z_mean, z_log_var = vae.encode_distribution(images)
    np.testing.assert_allclose(z_mean, expected_z, atol=1e-5)
    np.testing.assert_allclose(z_log_var, -expected_z, atol=1e-5)
    np.testing.assert_allclose(vae.encode(images), expected_z, atol=1e-5)

    reconstructions = reconstruct(encoder, decoder, images)
    np.testing.assert_allclose(reconstructions, tiny_models.decode_numpy(expected_z), atol=1e-5)

    with pytest.raises(InvalidInputError, match=r"received an array of shape \(8, 8\)"):
        encoder.encode(np.zeros((8, 8), np.float32))


def test_translate_matches_numpy(translator_path):
    translator = Translator(translator_path, providers=CPU)
    images = np.random.default_rng(2).random((2, 8, 8, 1)).astype(np.float32)

    np.testing.assert_allclose(translator.translate(images), 1.0 - images, atol=1e-6)
    with pytest.raises(InvalidInputError, match=r"\(N, H, W, C\).*\(2, 8, 8\)"):
        translator.translate(images[..., 0])


def test_grid_layout_and_png(tmp_path):
    images = np.stack([np.full((2, 3, 1), value, np.float32) for value in (0.0, 0.5, 1.0)])
    grid = make_grid(images, ncols=2, padding=1, background=1.0)

    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1)
    assert grid[1, 1, 0] == 0.0
    assert grid[1, 5, 0] == 0.5
    assert grid[4, 1, 0] == 1.0
    assert grid[0, 0, 0] == 1.0

    path = tmp_path / "sub" / "grid.png"
    written = save_grid(images, path, ncols=2, padding=1)
    reread = np.asarray(Image.open(path))
    np.testing.assert_array_equal(reread, written[:, :, 0])
    assert reread[1, 5] == 128
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]

    with pytest.raises(InvalidInputError, match="at least one"):
        make_grid([])
