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


def test_verify_npy_matches_pgm(runner, embedder_path, orl_dir, tmp_path):
    from serving.images import read_image

    model = str(embedder_path)
    pgm_a, pgm_b = (str(orl_dir / "s1" / f"{i}.pgm") for i in (1, 2))
    npy_a = tmp_path / "a.npy"
    np.save(npy_a, (read_image(pgm_a) * 255).round().astype(np.uint8))

    from_pgm = runner.invoke(main, ["verify", model, pgm_a, pgm_b])
    from_npy = runner.invoke(main, ["verify", model, str(npy_a), pgm_b])

    assert from_npy.exit_code == 0, from_npy.output
    assert from_npy.output == from_pgm.output


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

    result = runner.invoke(main, ["verify", model, s1[0], s2[0], "--threshold", "0"])
    assert result.exit_code == 0, result.output
    assert "threshold 0.0000 (given)  different" in result.output
    result = runner.invoke(main, ["verify", model, s1[0], s2[0], "--threshold", "-1"])
    assert result.exit_code == 2
    assert "-1" in result.output

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

    result = runner.invoke(main, ["identify", model, "--gallery", gallery, "--threshold", "0", s1[2]])
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


def test_identify_threshold_options(runner, embedder_path, open_set_embedder_path, tmp_path):
    from serving import Embedder, Gallery

    image = tmp_path / "probe.npy"
    np.save(image, np.random.default_rng(6).integers(0, 256, (8, 8, 1), dtype=np.uint8))
    galleries = {}
    for model in (embedder_path, open_set_embedder_path):
        embedder = Embedder(model, providers=["CPUExecutionProvider"])
        galleries[model] = str(tmp_path / f"{model.stem}.sqlite")
        with Gallery.open(galleries[model], embedder) as gallery:
            gallery.enrol("alice", embedder.embed([str(image)]))

    def identify(model, *options):
        return runner.invoke(main, ["identify", str(model), "--gallery", galleries[model], *options, str(image)])

    result = identify(open_set_embedder_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("alice  distance 0.0000  threshold 0.5000 (FPIR 0.01)\n")

    result = identify(open_set_embedder_path, "--far", "1e-2")
    assert result.exit_code == 0, result.output
    assert "threshold 0.9000 (FAR 0.01)" in result.output

    result = identify(open_set_embedder_path, "--threshold", "0.25")
    assert result.exit_code == 0, result.output
    assert "threshold 0.2500\n" in result.output

    result = identify(embedder_path)
    assert result.exit_code == 0, result.output
    assert "threshold 0.9000 (FAR 0.01)" in result.output

    result = identify(open_set_embedder_path, "--fpir", "1e-3")
    assert result.exit_code == 1
    assert "no open-set threshold for FPIR 0.001" in result.output
    assert "Traceback" not in result.output

    result = identify(open_set_embedder_path, "--fpir", "1e-2", "--far", "1e-2")
    assert result.exit_code == 2
    assert "Pass at most one of --fpir and --far." in result.output

    result = identify(open_set_embedder_path, "--fpir", "1e-2", "--far", "1e-2", "--threshold", "0.25")
    assert result.exit_code == 0, result.output
    assert "threshold 0.2500\n" in result.output


def test_cli_one_line_errors(runner, embedder_path, decoder_path, tmp_path):
    result = runner.invoke(main, ["sample", str(tmp_path / "absent.onnx"), "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    assert "absent.onnx does not exist" in result.output
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

    # NumPy's generator rejects a negative seed with a traceback, so click checks it first.
    result = runner.invoke(main, ["sample", str(decoder_path), "--seed", "-1", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    assert "'--seed'" in result.output
    assert "Traceback" not in result.output

    # A path needs its two ends, and an empty seed in a list is a typo, not a seed to skip.
    result = runner.invoke(main, ["interpolate", str(decoder_path), "--steps", "1", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    assert "expected at least 2 images" in result.output
    result = runner.invoke(main, ["mix", str(decoder_path), "--rows", "1,,2", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 2
    assert "received '1,,2'" in result.output


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


@pytest.mark.parametrize("command", ["sample", "encode"])
@pytest.mark.parametrize("out", ["/proc/x", ""])
def test_unwritable_out_one_line(runner, model_dir, orl_dir, command, out):
    suffix = ".npy" if command == "encode" else ".png"
    target = out + suffix if out else out
    if command == "encode":
        arguments = ["encode", str(model_dir / "encoder.onnx"), str(orl_dir / "s1" / "1.pgm"), "--out", target]
    else:
        arguments = ["sample", str(model_dir / "decoder.onnx"), "--out", target]

    result = runner.invoke(main, arguments)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "cannot write" in result.output
    assert "choose a writable --out" in result.output


def test_out_suffix_selects_format(runner, decoder_path, tmp_path):
    result = runner.invoke(main, ["sample", str(decoder_path), "--n", "4", "--out", str(tmp_path / "s.jpg")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.jpg").read_bytes()[:3] == b"\xff\xd8\xff"

    result = runner.invoke(main, ["sample", str(decoder_path), "--n", "4", "--out", str(tmp_path / "s.PNG")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.PNG").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    for name, received in (("s", "no suffix"), ("s.txt", ".txt")):
        result = runner.invoke(main, ["sample", str(decoder_path), "--out", str(tmp_path / name)])
        assert result.exit_code == 1
        assert f"expected a .png/.jpg/.jpeg name, received {received}" in result.output
        assert not (tmp_path / name).exists()


def test_encode_requires_npy_name(runner, encoder_path, orl_dir, tmp_path):
    image = str(orl_dir / "s1" / "1.pgm")

    result = runner.invoke(main, ["encode", str(encoder_path), image, "--out", str(tmp_path / "z.txt")])

    assert result.exit_code == 1
    assert "expected a .npy name, received .txt" in result.output
    assert not (tmp_path / "z.txt").exists()


def test_out_missing_folder_not_created(runner, decoder_path, tmp_path):
    target = tmp_path / "absent" / "deeper" / "s.png"

    result = runner.invoke(main, ["sample", str(decoder_path), "--out", str(target)])

    assert result.exit_code == 1
    assert f"the folder {target.parent} does not exist" in result.output
    assert not (tmp_path / "absent").exists()


def test_decode_text_file_message(runner, decoder_path, tmp_path):
    z_file = tmp_path / "notnpy.npy"
    z_file.write_text("0.1 0.2 0.3 0.4\n")

    result = runner.invoke(main, ["decode", str(decoder_path), "--z-file", str(z_file), "--out", str(tmp_path / "d.png")])

    assert result.exit_code == 1
    assert "not a .npy array file: expected an array of shape (N, 4)" in result.output
    assert "allow_pickle" not in result.output
    assert "Traceback" not in result.output


def test_sample_caps_grid_size(runner, decoder_path, tmp_path):
    out = tmp_path / "big.png"

    result = runner.invoke(main, ["sample", str(decoder_path), "--n", "100000", "--out", str(out)])

    assert result.exit_code == 2
    assert "expected 1 to 256 images per grid; received 100000" in result.output
    assert not out.exists()

    result = runner.invoke(main, ["sample", str(decoder_path), "--n", "256", "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_gallery_unwritable_path(runner, embedder_path, orl_dir):
    image = str(orl_dir / "s1" / "1.pgm")

    result = runner.invoke(main, ["enroll", str(embedder_path), "--gallery", "/proc/x.db", "alice", image])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "/proc/x.db" in result.output
    assert "Choose a gallery path in an existing folder" in result.output


@pytest.mark.parametrize(
    "name, expected",
    [("", "non-empty"), ("a\nb", "control characters"), ("a\tb", "control characters"), ("x" * 257, "at most 256")],
)
def test_enroll_rejects_bad_names(runner, embedder_path, orl_dir, tmp_path, name, expected):
    gallery = tmp_path / "faces.db"

    result = runner.invoke(main, ["enroll", str(embedder_path), "--gallery", str(gallery), name, str(orl_dir / "s1" / "1.pgm")])

    assert result.exit_code == 1
    assert expected in result.output
    assert not gallery.exists()


def test_gallery_messages_use_flags(runner, embedder_path, orl_dir, tmp_path):
    model = str(embedder_path)
    gallery = str(tmp_path / "faces.db")
    image = str(orl_dir / "s1" / "1.pgm")
    again = str(orl_dir / "s1" / "." / "1.pgm")

    result = runner.invoke(main, ["enroll", model, "--gallery", gallery, "alice", image, again])
    assert result.exit_code == 0, result.output
    assert "enrolled alice with 1 image (1 person in" in result.output
    assert "is the same file as" in result.output

    result = runner.invoke(main, ["enroll", model, "--gallery", gallery, "alice", image])
    assert result.exit_code == 1
    assert "Pass --replace" in result.output
    assert "replace=True" not in result.output

    result = runner.invoke(main, ["gallery", model, "--gallery", gallery, "remove", "alice"])
    assert result.exit_code == 0, result.output
    assert "(0 people left)" in result.output

    result = runner.invoke(main, ["gallery", model, "--gallery", gallery, "list"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "(empty gallery)"


@pytest.mark.parametrize("command", ["verify", "sample", "encode"])
def test_missing_model_names_both_forms(runner, orl_dir, tmp_path, command):
    image = str(orl_dir / "s1" / "1.pgm")
    model = "some/dir/name"
    arguments = {
        "verify": ["verify", model, image, image],
        "sample": ["sample", model, "--out", str(tmp_path / "s.png")],
        "encode": ["encode", model, image, "--out", str(tmp_path / "z.npy")],
    }[command]

    result = runner.invoke(main, arguments)

    assert result.exit_code == 2
    assert ".onnx file" in result.output
    assert "zoo pull --list" in result.output


def test_serve_unwritable_gallery(runner, embedder_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")

    result = runner.invoke(main, ["serve", str(embedder_path), "--gallery", "/proc/g.db", "--port", "0"])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "/proc/g.db" in result.output
    assert "Choose a gallery path in an existing folder" in result.output
