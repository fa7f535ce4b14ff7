"""The serving commands of the `zoo` CLI, run with click's CliRunner."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo.cli import main

pytestmark = pytest.mark.backend_agnostic


@pytest.fixture
def runner():
    return CliRunner()


def test_verify_enroll_identify_on_orl(runner, embedder_path, orl_dir, tmp_path):
    model = str(embedder_path)
    gallery = str(tmp_path / "faces.sqlite")
    s1 = [str(orl_dir / "s1" / f"{i}.pgm") for i in range(1, 4)]
    s2 = [str(orl_dir / "s2" / f"{i}.pgm") for i in range(1, 4)]

    result = runner.invoke(main, ["verify", model, s1[0], s1[0]])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("same")
    assert "distance 0.0000" in result.output

    result = runner.invoke(main, ["verify", model, s1[0], s2[0], "--far", "1e-3"])
    assert result.exit_code == 0, result.output
    assert result.output.split()[-1] in ("same", "different")
    assert "threshold 0.7000" in result.output

    result = runner.invoke(main, ["enroll", model, "--gallery", gallery, "s1", *s1[:2]])
    assert result.exit_code == 0, result.output
    assert "enrolled s1 with 2 images" in result.output
    result = runner.invoke(main, ["enroll", model, "--gallery", gallery, "s2", *s2[:2]])
    assert result.exit_code == 0, result.output

    result = runner.invoke(main, ["enroll", model, "--gallery", gallery, "s1", s1[2]])
    assert result.exit_code == 1
    assert "already enrolled" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(main, ["identify", model, "--gallery", gallery, s1[0]])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("s1  distance 0.0000")

    result = runner.invoke(main, ["identify", model, "--gallery", gallery, "--threshold", "-1", s1[2]])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("unknown")

    result = runner.invoke(main, ["gallery", model, "--gallery", gallery, "list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["s1\t2", "s2\t2"]

    result = runner.invoke(main, ["gallery", model, "--gallery", gallery, "remove", "s2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["gallery", model, "--gallery", gallery, "remove", "s2"])
    assert result.exit_code == 1
    assert "'s2' is not enrolled" in result.output


def test_cli_one_line_errors(runner, embedder_path, decoder_path, tmp_path):
    result = runner.invoke(main, ["sample", str(tmp_path / "absent.onnx"), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "not found" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(main, ["sample", str(embedder_path), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "zoo_task='embedder'" in result.output

    z_file = tmp_path / "z.npy"
    np.save(z_file, np.zeros((2, 5), np.float32))
    result = runner.invoke(main, ["decode", str(decoder_path), "--z-file", str(z_file), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "(N, 4)" in result.output

    np.save(z_file, np.array([[0.0, np.nan, 0.0, np.inf]], np.float32))
    result = runner.invoke(main, ["decode", str(decoder_path), "--z-file", str(z_file), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "2 non-finite values" in result.output
    assert "(N, 4)" in result.output
    assert "Traceback" not in result.output


def test_generative_commands(runner, model_dir, orl_dir, tmp_path):
    decoder = str(model_dir / "decoder.onnx")
    encoder = str(model_dir / "encoder.onnx")
    faces = [str(orl_dir / "s3" / f"{i}.pgm") for i in (1, 2)]

    result = runner.invoke(main, ["sample", decoder, "--n", "6", "--seed", "0", "--ncols", "3", "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    # 2 rows x 3 columns of 8x8 tiles with 2-pixel padding.
    assert Image.open(tmp_path / "s.png").size == (3 * 10 + 2, 2 * 10 + 2)

    result = runner.invoke(main, ["interpolate", decoder, "--steps", "5", "--method", "slerp", "--out", str(tmp_path / "i.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "i.png").size == (5 * 10 + 2, 12)

    z_file = tmp_path / "z.npy"
    result = runner.invoke(main, ["encode", encoder, *faces, "--out", str(z_file)])
    assert result.exit_code == 0, result.output
    z = np.load(z_file)
    assert z.shape == (2, 4)

    result = runner.invoke(main, ["decode", decoder, "--z-file", str(z_file), "--out", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output

    result = runner.invoke(main, ["reconstruct", encoder, decoder, *faces, "--out", str(tmp_path / "r.png")])
    assert result.exit_code == 0, result.output
    reconstructed = np.asarray(Image.open(tmp_path / "r.png"))
    decoded = np.asarray(Image.open(tmp_path / "d.png"))
    # The bottom row of the reconstruction grid is the decoded latents.
    np.testing.assert_array_equal(reconstructed[12:20, 2:10], decoded[2:10, 2:10])

    result = runner.invoke(main, ["translate", str(model_dir / "translator.onnx"), *faces, "--out", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    translated = np.asarray(Image.open(tmp_path / "t.png")).astype(int)
    np.testing.assert_allclose(translated[2:10, 2:10] + translated[12:20, 2:10], 255, atol=1)
