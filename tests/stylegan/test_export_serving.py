"""A tiny StyleGAN exported to ONNX and run by `serving.StyleGenerator`, against Keras.

The module builds one untrained StyleGAN with a non-zero w_avg, exports its
three parts once through the TensorFlow subprocess, and compares the
serving layer's sampling, truncation and style mixing with the Keras model.
"""

import json

import keras
import numpy as np
import pytest

from export import export_run
from serving import StyleGenerator
from zoo.stylegan import StyleGAN
from zoo.stylegan.model import mix_styles

TINY = dict(image_shape=(8, 8, 1), latent_dim=8, w_dim=8, mapping_layers=2, filters=4, max_filters=8, seed=0)
CPU = ["CPUExecutionProvider"]

# The export dominates this module's time and tests/export/test_all_models.py
# already exports a StyleGAN saved under every backend, so one pass is enough.
pytestmark = pytest.mark.backend_agnostic
ATOL = 1e-5


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Return (model, export report, StyleGenerator) for a tiny StyleGAN."""
    run_dir = tmp_path_factory.mktemp("stylegan") / "run"
    run_dir.mkdir()
    model = StyleGAN(**TINY)
    # An untrained model has w_avg = 0; a random one makes psi visible.
    model.w_avg.assign(np.random.default_rng(0).normal(size=TINY["w_dim"]).astype("float32"))
    model.compile()
    model.save(run_dir / "model.keras")
    config = {"recipe": "stylegan-tiny", "backend": keras.backend.backend()}
    (run_dir / "config.json").write_text(json.dumps(config))

    report = export_run(run_dir, "onnx", out_dir=run_dir / "export")
    generator = StyleGenerator(run_dir / "export" / "generator.onnx", providers=CPU)
    return model, report, generator


def test_exported_parts_within_parity(exported):
    _, report, generator = exported
    parts = report["formats"]["onnx"]["parts"]

    assert sorted(parts) == ["generator", "mapping", "synthesis"]
    for name, part in parts.items():
        for output, difference in part["artifacts"][0]["parity"]["max_abs_diff"].items():
            assert difference <= ATOL, f"{name}/{output}: {difference}"
    assert generator.can_mix
    assert (generator.num_ws, generator.w_dim, generator.latent_dim) == (4, 8, 8)
    assert generator.style_resolutions == (4, 8, 8, 8)


def test_sample_psi_zero_is_w_avg_image(exported):
    model, _, generator = exported

    images = generator.sample(5, psi=0.0, seed=1)
    expected = model.synthesize(keras.ops.convert_to_numpy(model.w_avg)[None, :])

    for image in images[1:]:
        np.testing.assert_allclose(image, images[0], atol=1e-6)
    np.testing.assert_allclose(images[:1], expected, atol=ATOL)
    assert images.std() > 0.0


@pytest.mark.parametrize("psi", [1.0, 0.6])
def test_sample_matches_keras_generator(exported, psi):
    model, _, generator = exported
    z = generator.sample_latents(6, seed=2)

    images = generator.sample(6, psi=psi, seed=2)

    np.testing.assert_allclose(images, model.generate(z, psi=psi), atol=ATOL)


def test_mix_crossover_num_ws_gives_row_images(exported):
    _, _, generator = exported
    rows, columns = [3, 4], [5, 6, 7]

    mixed = generator.mix(rows, columns, crossover=generator.num_ws, psi=0.8)

    for index, seed in enumerate(rows):
        own_image = generator.sample(1, psi=0.8, seed=seed)[0]
        for column in range(len(columns)):
            np.testing.assert_allclose(mixed[index, column], own_image, atol=ATOL)


def test_mix_matches_keras_style_mixing(exported):
    model, _, generator = exported
    z_rows = generator.sample_latents(2, seed=8)
    z_columns = generator.sample_latents(3, seed=9)
    w_rows = model.truncate(model.map(z_rows), 0.7)
    w_columns = model.truncate(model.map(z_columns), 0.7)

    mixed = generator.mix(z_rows, z_columns, crossover=2, psi=0.7)

    coarse = np.repeat(w_rows, 3, axis=0)
    fine = np.tile(w_columns, (2, 1))
    expected = model.synthesize(mix_styles(coarse, fine, 2, model.num_ws))
    np.testing.assert_allclose(mixed.reshape(expected.shape), expected, atol=ATOL)
    assert not np.allclose(mixed[:, 0], mixed[:, 1], atol=1e-3)
