"""StyleGenerator, its CLI commands and the psi field of /sample, on a tiny StyleGAN built with onnx.helper."""

import io
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from serving import Decoder, InvalidInputError, InvalidModelError, StyleGenerator, load, load_generator
from serving.stylegan import latents_from_seeds
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]
LATENT = tiny_models.LATENT_DIM
NUM_WS = tiny_models.STYLE_NUM_WS
ATOL = 1e-5


@pytest.fixture(scope="module")
def generator(style_dir):
    return StyleGenerator(style_dir / "generator.onnx", providers=CPU, batch_size=3)


def test_load_picks_style_generator(style_dir):
    loaded = load(style_dir / "generator.onnx", providers=CPU)

    assert isinstance(loaded, StyleGenerator)
    assert loaded.can_mix
    assert (loaded.latent_dim, loaded.w_dim, loaded.num_ws) == (LATENT, 3, NUM_WS)
    assert loaded.style_resolutions == (4, 8, 8, 8)
    assert loaded.default_crossover == 2


def test_load_rejects_side_parts(style_dir):
    for role in ("mapping", "synthesis"):
        with pytest.raises(InvalidModelError, match=f"the {role} part of a StyleGAN"):
            load(style_dir / f"{role}.onnx", providers=CPU)


def test_load_generator_keeps_plain_decoder(decoder_path):
    loaded = load_generator(decoder_path, providers=CPU)

    assert type(loaded) is Decoder


def test_decode_matches_numpy(generator):
    z = np.random.default_rng(0).standard_normal((5, LATENT)).astype(np.float32)
    psi = np.array([1.0, 0.7, 0.0, -0.5, 1.5], np.float32)

    images = generator.decode(z, psi)

    for index in range(5):
        _, expected = tiny_models.style_numpy(z[index : index + 1], psi[index])
        np.testing.assert_allclose(images[index : index + 1], expected, atol=ATOL)


def test_sample_psi_zero_gives_w_avg_image(generator):
    images = generator.sample(4, psi=0.0, seed=3)
    _, w_avg, _, _ = tiny_models.style_weights()
    expected = tiny_models.synthesis_numpy(np.tile(w_avg, (1, NUM_WS, 1)))

    for image in images:
        np.testing.assert_allclose(image, images[0], atol=1e-6)
    np.testing.assert_allclose(images[:1], expected, atol=ATOL)


def test_sample_psi_changes_images(generator):
    z = np.random.default_rng(3).standard_normal((4, LATENT))
    _, expected = tiny_models.style_numpy(z, 0.7)

    np.testing.assert_allclose(generator.sample(4, psi=0.7, seed=3), expected, atol=ATOL)
    assert not np.allclose(generator.sample(4, psi=0.7, seed=3), generator.sample(4, psi=1.0, seed=3))


def test_map_and_synthesize_match_numpy(generator):
    z = np.random.default_rng(8).standard_normal((2, LATENT)).astype(np.float32)
    expected_w, expected_images = tiny_models.style_numpy(z, 0.5)

    w = generator.map(z, psi=0.5)

    np.testing.assert_allclose(w, expected_w, atol=ATOL)
    np.testing.assert_allclose(generator.synthesize(w), expected_images, atol=ATOL)


def test_mix_crossover_num_ws_gives_row_images(generator):
    rows, columns = [11, 12], [21, 22, 23]

    mixed = generator.mix(rows, columns, crossover=NUM_WS, psi=0.7)

    assert mixed.shape == (2, 3, 8, 8, 1)
    for index, seed in enumerate(rows):
        own_image = generator.sample(1, psi=0.7, seed=seed)[0]
        for column in range(3):
            np.testing.assert_allclose(mixed[index, column], own_image, atol=ATOL)


def test_mix_crossover_zero_gives_column_images(generator):
    columns = [21, 22, 23]

    mixed = generator.mix([11, 12], columns, crossover=0)

    for column, seed in enumerate(columns):
        own_image = generator.sample(1, seed=seed)[0]
        for row in range(2):
            np.testing.assert_allclose(mixed[row, column], own_image, atol=ATOL)


def test_mix_takes_coarse_from_rows(generator):
    z_rows = np.random.default_rng(4).standard_normal((2, LATENT)).astype(np.float32)
    z_columns = np.random.default_rng(5).standard_normal((3, LATENT)).astype(np.float32)
    w_rows, _ = tiny_models.style_numpy(z_rows, 0.8)
    w_columns, _ = tiny_models.style_numpy(z_columns, 0.8)

    mixed = generator.mix(z_rows, z_columns, crossover=1, psi=0.8)

    for row in range(2):
        for column in range(3):
            ws = np.concatenate([w_rows[row][None], np.tile(w_columns[column], (NUM_WS - 1, 1))])
            expected = tiny_models.synthesis_numpy(ws[None])[0]
            np.testing.assert_allclose(mixed[row, column], expected, atol=ATOL)


def test_mix_seed_is_sample_seed(generator):
    latents = latents_from_seeds([7, 9], LATENT)

    np.testing.assert_array_equal(latents[1], generator.sample_latents(1, seed=9)[0])


def test_mixing_grid_layout(generator):
    rows, columns = [11, 12], [21, 22, 23]

    tiles = generator.mixing_grid(rows, columns, crossover=2)
    mixed = generator.mix(rows, columns, crossover=2)

    assert tiles.shape == (12, 8, 8, 1)
    np.testing.assert_array_equal(tiles[0], np.ones((8, 8, 1), np.float32))
    for column, seed in enumerate(columns):
        np.testing.assert_allclose(tiles[1 + column], generator.sample(1, seed=seed)[0], atol=ATOL)
    for row, seed in enumerate(rows):
        start = (row + 1) * 4
        np.testing.assert_allclose(tiles[start], generator.sample(1, seed=seed)[0], atol=ATOL)
        np.testing.assert_allclose(tiles[start + 1 : start + 4], mixed[row], atol=1e-6)


@pytest.mark.parametrize("psi", [np.nan, np.inf, -np.inf, "0.7", None, True, 1e300])
def test_invalid_psi_rejected(generator, psi):
    with pytest.raises(InvalidInputError, match="psi must be"):
        generator.sample(2, psi=psi)


def test_mapping_non_finite_w_names_psi(generator, monkeypatch):
    # check_psi bounds psi, but a mapping can still overflow, for example for a huge z.
    monkeypatch.setattr("serving.stylegan._run_feeds_in_batches", lambda *args: np.full((1, 3), np.inf, np.float32))

    with pytest.raises(InvalidModelError, match="NaN or inf in 'w'.*psi=0.5"):
        generator.map(np.ones((1, LATENT), np.float32), psi=0.5)


def test_psi_of_wrong_shape_rejected(generator):
    with pytest.raises(InvalidInputError, match=r"shape \(2,\) or \(2, 1\)"):
        generator.decode(np.zeros((2, LATENT), np.float32), psi=[0.5, 0.5, 0.5])


@pytest.mark.parametrize("crossover", [-1, NUM_WS + 1, 1.5, True, "2"])
def test_invalid_crossover_rejected(generator, crossover):
    with pytest.raises(InvalidInputError, match=f"crossover must be .*0 to {NUM_WS}"):
        generator.mix([1], [2], crossover=crossover)


def test_wrong_latent_size_rejected(generator):
    with pytest.raises(InvalidInputError, match=r"\(N, 4\).*received shape \(2, 5\)"):
        generator.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(InvalidInputError, match=r"\(N, 4\).*received shape \(1, 3\)"):
        generator.mix(np.zeros((1, 3), np.float32), [2])
    with pytest.raises(InvalidInputError, match="non-finite"):
        generator.map(np.full((1, LATENT), np.nan, np.float32))


def test_invalid_sources_rejected(generator):
    with pytest.raises(InvalidInputError, match="rows must be a list of integer seeds"):
        generator.mix([0.5, 1.5], [2])
    with pytest.raises(InvalidInputError, match="columns seeds must be >= 0"):
        generator.mix([1], [-2])
    with pytest.raises(InvalidInputError, match="rows must be a list of integer seeds"):
        generator.mix([], [2])
    with pytest.raises(InvalidInputError, match="one number"):
        generator.mix([1], [2], psi=[0.5])


def test_invalid_styles_rejected(generator):
    with pytest.raises(InvalidInputError, match=r"\(N, 4, 3\) or \(N, 3\)"):
        generator.synthesize(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(InvalidInputError, match="non-finite"):
        generator.synthesize(np.full((1, NUM_WS, 3), np.inf, np.float32))


def test_mix_without_side_parts(style_dir, tmp_path):
    shutil.copy(style_dir / "generator.onnx", tmp_path / "generator.onnx")
    alone = StyleGenerator(tmp_path / "generator.onnx", providers=CPU)

    assert not alone.can_mix
    assert alone.sample(2, psi=0.5).shape == (2, 8, 8, 1)
    with pytest.raises(InvalidModelError, match="needs the StyleGAN mapping part"):
        alone.mix([1], [2])


def test_side_parts_of_another_run_rejected(tmp_path):
    generator_path = tiny_models.build_style_parts(tmp_path, mapping_seed=5)

    with pytest.raises(InvalidModelError, match="do not reproduce the generator"):
        StyleGenerator(generator_path, providers=CPU)


def test_cli_sample_psi_and_mix(style_dir, decoder_path, tmp_path):
    from zoo.cli import main

    runner = CliRunner()
    model = str(style_dir / "generator.onnx")

    result = runner.invoke(main, ["sample", model, "--n", "3", "--psi", "0", "--ncols", "3", "--out", str(tmp_path / "psi0.png")])
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(tmp_path / "psi0.png"))
    assert grid.shape == (2 + 8 + 2, 2 + 3 * (8 + 2))
    np.testing.assert_array_equal(grid[2:10, 2:10], grid[2:10, 12:20])

    out = tmp_path / "mix.png"
    result = runner.invoke(main, ["mix", model, "--rows", "1,2", "--columns", "3,4,5", "--crossover", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "crossover 4 of 4" in result.output
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 + 3 * (8 + 2), 2 + 4 * (8 + 2))
    # Crossover num_ws: every image of row 1 is its row source, the first tile of the row.
    np.testing.assert_array_equal(grid[12:20, 12:20], grid[12:20, 2:10])
    np.testing.assert_array_equal(grid[12:20, 32:40], grid[12:20, 2:10])

    result = runner.invoke(main, ["mix", model, "--crossover", "9", "--out", str(out)])
    assert result.exit_code == 1
    assert "crossover must be from 0 to 4" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(main, ["sample", str(decoder_path), "--psi", "0.5", "--out", str(out)])
    assert result.exit_code == 1
    assert "not a StyleGAN generator" in result.output


def test_http_sample_psi(style_dir, decoder_path):
    from fastapi.testclient import TestClient

    from serving.http import ModelRegistry, create_app

    paths = [style_dir / "generator.onnx", style_dir / "mapping.onnx", decoder_path]
    registry = ModelRegistry.load(paths, max_batch=8, max_wait_ms=2.0, providers=CPU)
    try:
        with TestClient(create_app(registry)) as client:
            response = client.post("/models/generator/sample", json={"n": 3, "seed": 5, "psi": 0.0, "format": "json"})
            assert response.status_code == 200, response.text
            images = np.asarray(response.json()["images"])
            _, expected = tiny_models.style_numpy(np.zeros((1, LATENT)), 0.0)
            for image in images:
                np.testing.assert_allclose(image, expected[0], atol=ATOL)

            response = client.post("/models/generator/sample", json={"n": 2, "seed": 5, "psi": 0.7, "format": "json"})
            _, expected = tiny_models.style_numpy(np.random.default_rng(5).standard_normal((2, LATENT)), 0.7)
            np.testing.assert_allclose(response.json()["images"], expected, atol=ATOL)

            response = client.post("/models/generator/decode", json={"z": [[0.1, 0.2, 0.3, 0.4]], "format": "json"})
            assert response.status_code == 200, response.text

            response = client.post("/models/generator/sample", json={"psi": "NaN"})
            assert response.status_code == 422
            assert response.json()["field"] == "psi"

            response = client.post("/models/decoder/sample", json={"psi": 0.5})
            assert response.status_code == 422
            assert "not a StyleGAN generator" in response.text

            response = client.post("/models/mapping/sample", json={})
            assert response.status_code == 422
            assert "Model 'mapping' is a mapping; it serves no endpoint." in response.json()["detail"]
    finally:
        registry.close()


def test_http_mix(style_dir, decoder_path):
    from fastapi.testclient import TestClient

    from serving.http import ModelRegistry, create_app

    paths = [style_dir / "generator.onnx", decoder_path]
    registry = ModelRegistry.load(paths, max_batch=8, max_wait_ms=2.0, providers=CPU)
    z_rows = np.random.default_rng(4).standard_normal((2, LATENT))
    try:
        with TestClient(create_app(registry)) as client:
            body = {"rows": z_rows.tolist(), "columns": [21, 22, 23], "crossover": 1, "psi": 0.8, "format": "json"}
            response = client.post("/models/generator/mix", json=body)
            assert response.status_code == 200, response.text
            tiles = np.asarray(response.json()["images"])

            # Tiles: a blank corner, the 3 column sources, then per row its source and 3 mixed images.
            assert tiles.shape == (3 * 4, 8, 8, 1)
            np.testing.assert_allclose(tiles[0], 1.0)
            w_rows, row_images = tiny_models.style_numpy(z_rows, 0.8)
            w_columns, column_images = tiny_models.style_numpy(latents_from_seeds([21, 22, 23], LATENT), 0.8)
            np.testing.assert_allclose(tiles[1:4], column_images, atol=ATOL)
            for row in range(2):
                np.testing.assert_allclose(tiles[4 * (row + 1)], row_images[row], atol=ATOL)
                for column in range(3):
                    ws = np.concatenate([w_rows[row][None], np.tile(w_columns[column], (NUM_WS - 1, 1))])
                    expected = tiny_models.synthesis_numpy(ws[None])[0]
                    np.testing.assert_allclose(tiles[4 * (row + 1) + 1 + column], expected, atol=ATOL)

            response = client.post("/models/generator/mix", json={"rows": [1], "columns": [2, 3]})
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(response.content)).size == (2 + 3 * 10, 2 + 2 * 10)

            response = client.post("/models/generator/mix", json={"crossover": NUM_WS + 1})
            assert response.status_code == 422
            assert response.json()["field"] == "crossover"

            response = client.post("/models/generator/mix", json={"rows": [1, -2]})
            assert response.status_code == 422
            assert "integer seeds >= 0" in response.json()["detail"]

            response = client.post("/models/generator/mix", json={"columns": [[0.1, 0.2]]})
            assert response.status_code == 422
            assert f"list of {LATENT} finite numbers" in response.json()["detail"]

            response = client.post("/models/generator/mix", json={"rows": list(range(16))})
            assert response.status_code == 422

            response = client.post("/models/decoder/mix", json={})
            assert response.status_code == 422
            assert "cannot mix styles" in response.json()["detail"]
    finally:
        registry.close()
