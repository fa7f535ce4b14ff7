"""Sessions, metadata and image reading, against numpy and Pillow."""

import io
import logging

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from serving import images as image_io
from serving import runtime
from serving.errors import CorruptFileError, InvalidInputError, ModelNotFoundError
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]


def test_model_reads_metadata_and_io(embedder_path):
    model = runtime.OnnxModel(embedder_path, providers=CPU)

    assert model.provider == "CPUExecutionProvider"
    assert model.task == "embedder"
    assert model.metadata["threshold_far_1e-3"] == "0.7"
    assert list(model.inputs) == ["images"]
    assert model.inputs["images"].shape == (None, 8, 8, 1)
    assert model.outputs["embeddings"].shape == (None, tiny_models.EMBEDDING_DIM)
    assert model.image_shape("images") == (8, 8, 1)


def test_session_logs_provider_at_debug(embedder_path, caplog):
    with caplog.at_level(logging.INFO, logger="serving.runtime"):
        runtime.create_session(embedder_path, providers=CPU)
    assert caplog.records == []

    with caplog.at_level(logging.DEBUG, logger="serving.runtime"):
        runtime.create_session(embedder_path, providers=CPU)
    assert [record.levelno for record in caplog.records] == [logging.DEBUG]
    assert "on CPUExecutionProvider" in caplog.text


def test_default_providers_skip_cuda_without_driver(monkeypatch):
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(runtime, "_cuda_driver_present", lambda: False)
    assert runtime.default_providers() == ["CPUExecutionProvider"]

    monkeypatch.setattr(runtime, "_cuda_driver_present", lambda: True)
    assert runtime.default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_session_warns_when_cuda_falls_back(embedder_path, caplog):
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider")
    with caplog.at_level(logging.INFO, logger="serving.runtime"):
        session = runtime.create_session(
            embedder_path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
        )

    in_use = session.get_providers()[0]
    assert f"on {in_use}" in caplog.text
    if in_use != "CUDAExecutionProvider":
        assert "not usable here" in caplog.text


def test_session_rejects_unknown_provider(embedder_path):
    with pytest.raises(InvalidInputError, match="NoSuchExecutionProvider"):
        runtime.create_session(embedder_path, providers=["NoSuchExecutionProvider"])


def test_session_rejects_bad_files(embedder_path, tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        runtime.create_session(tmp_path / "absent.onnx")

    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(embedder_path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match="truncated"):
        runtime.create_session(truncated, providers=CPU)

    not_onnx = tmp_path / "picture.onnx"
    not_onnx.write_bytes(b"P5\n2 2\n255\n" + bytes(4) + b"padding to pass the size check")
    with pytest.raises(CorruptFileError, match="could not be loaded"):
        runtime.create_session(not_onnx, providers=CPU)

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="0 bytes"):
        runtime.create_session(empty, providers=CPU)


def test_pgm_p5_and_p2_golden():
    pixels = np.array([[0, 51, 255], [102, 204, 153]], dtype=np.uint8)
    p5 = b"P5\n# a comment\n3 2\n255\n" + pixels.tobytes()
    p2 = b"P2\n3 2\n255\n" + " ".join(str(v) for v in pixels.ravel()).encode() + b"\n"

    for data in (p5, p2):
        image = image_io.decode_image(data)
        assert image.shape == (2, 3, 1)
        assert image.dtype == np.float32
        np.testing.assert_allclose(image[:, :, 0], pixels / 255.0, atol=1e-7)


def test_pgm_sixteen_bit():
    pixels = np.array([[0, 1000], [40000, 65535]], dtype=">u2")
    image = image_io.decode_image(b"P5 2 2 65535\n" + pixels.tobytes())

    np.testing.assert_allclose(image[:, :, 0], pixels.astype(np.float64) / 65535, atol=1e-7)


def test_pgm_errors():
    with pytest.raises(InvalidInputError, match="truncated: expected 6 bytes"):
        image_io.decode_image(b"P5\n3 2\n255\n" + bytes(4))
    with pytest.raises(InvalidInputError, match="header is truncated"):
        image_io.decode_image(b"P5\n3")
    with pytest.raises(InvalidInputError, match=r"\[0, 100\]"):
        image_io.decode_image(b"P2 2 1 100 50 200")
    with pytest.raises(InvalidInputError, match="empty"):
        image_io.decode_image(b"")


def test_orl_pgm_matches_pillow(orl_dir):
    path = orl_dir / "s1" / "1.pgm"
    image = image_io.read_image(path)

    assert image.shape == (112, 92, 1)
    expected = np.asarray(Image.open(path), dtype=np.float32) / 255
    np.testing.assert_allclose(image[:, :, 0], expected, atol=1e-7)


def _encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_png_grey_rgb_rgba():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((5, 4, 1), 7, np.uint8)], axis=-1)
    grey = rgb[:, :, 0]

    np.testing.assert_allclose(image_io.decode_image(_encode(rgb, "PNG")), rgb / 255.0, atol=1e-7)
    np.testing.assert_allclose(image_io.decode_image(_encode(rgba, "PNG")), rgba / 255.0, atol=1e-7)
    np.testing.assert_allclose(image_io.decode_image(_encode(grey, "PNG"))[:, :, 0], grey / 255.0, atol=1e-7)


def test_jpeg_reads_close_to_source():
    grey = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (16, 1))
    image = image_io.decode_image(_encode(grey, "JPEG"))

    assert image.shape == (16, 16, 1)
    assert np.abs(image[:, :, 0] - grey / 255.0).max() < 0.05


def test_truncated_and_unknown_files(tmp_path):
    png = _encode(np.zeros((32, 32, 3), np.uint8) + 9, "PNG")
    with pytest.raises(InvalidInputError, match="could not be read"):
        image_io.decode_image(png[: len(png) // 2])
    with pytest.raises(InvalidInputError, match="not a readable image") as error:
        image_io.decode_image(b"definitely not an image")
    assert "BytesIO" not in str(error.value)
    assert "received 23 bytes starting with b'definite'" in str(error.value)
    with pytest.raises(InvalidInputError, match="could not be read"):
        image_io.read_image(tmp_path / "missing.png")


def test_colour_conversion_golden():
    rgb = np.array([[[1.0, 0.0, 0.0], [0.2, 0.4, 0.6]]], dtype=np.float32)
    grey = image_io.convert_channels(rgb, 1)

    np.testing.assert_allclose(grey[0, :, 0], [0.299, 0.2 * 0.299 + 0.4 * 0.587 + 0.6 * 0.114], atol=1e-6)
    np.testing.assert_array_equal(image_io.convert_channels(grey, 3)[..., 2], grey[..., 0])
    rgba = np.concatenate([rgb, np.ones((1, 2, 1), np.float32)], axis=-1)
    np.testing.assert_array_equal(image_io.convert_channels(rgba, 3), rgb)


def test_numpy_resize_matches_pillow():
    rng = np.random.default_rng(0)
    for source, target in [((112, 92), (8, 8)), ((5, 7), (11, 13)), ((112, 92), (56, 46))]:
        image = rng.random(source + (1,)).astype(np.float32)
        np.testing.assert_allclose(
            image_io.resize_numpy(image, *target), image_io.resize(image, *target), atol=1e-6
        )


def test_resize_two_to_one_averages():
    image = np.array([[0.0, 1.0], [1.0, 1.0]], dtype=np.float32)[:, :, None]
    # Pillow's bilinear filter widens with the downscale factor: a 2x2 -> 1x1
    # reduction is the plain mean.
    assert image_io.resize_numpy(image, 1, 1)[0, 0, 0] == pytest.approx(0.75)


def test_prepare_images_shapes_and_errors():
    batch = np.random.default_rng(0).random((3, 16, 16, 3)).astype(np.float32)
    prepared = image_io.prepare_images(batch, 8, 8, 1)
    assert prepared.shape == (3, 8, 8, 1)
    assert prepared.dtype == np.float32

    single = image_io.prepare_images((batch[0] * 255).astype(np.uint8), 8, 8, 1)
    assert single.shape == (1, 8, 8, 1)

    with pytest.raises(InvalidInputError, match=r"\(N, H, W, C\).*received an array of shape \(8, 8\)"):
        image_io.prepare_images(np.zeros((8, 8), np.float32), 8, 8, 1)
    with pytest.raises(InvalidInputError, match=r"received an array of shape \(5, 8, 8\).*images\[\.\.\., None\]"):
        image_io.prepare_images(np.zeros((5, 8, 8), np.float32), 8, 8, 1)
    with pytest.raises(InvalidInputError, match=r"single image of shape \(H, W, C\).*\(8, 8\)"):
        image_io.prepare_images([np.zeros((8, 8), np.float32)], 8, 8, 1)
    with pytest.raises(InvalidInputError, match=r"model takes images of shape \(28, 28, 1\)"):
        image_io.prepare_images(np.zeros((2, 3, 28, 28, 1), np.float32), 28, 28, 1)
    with pytest.raises(InvalidInputError, match=r"model takes images of shape \(28, 28, 1\)"):
        image_io.prepare_images([np.zeros((28, 28), np.float32)], 28, 28, 1)

    with pytest.raises(InvalidInputError, match="1 non-finite"):
        bad = np.zeros((1, 8, 8, 1), np.float32)
        bad[0, 3, 3, 0] = np.nan
        image_io.prepare_images(bad, 8, 8, 1)
    with pytest.raises(InvalidInputError, match="non-finite"):
        image_io.prepare_images(np.full((1, 8, 8, 1), np.inf, np.float32), 8, 8, 1)
    with pytest.raises(InvalidInputError, match="dtype int64"):
        image_io.prepare_images(np.zeros((1, 8, 8, 1), np.int64), 8, 8, 1)
    with pytest.raises(InvalidInputError, match="divide by 255"):
        image_io.prepare_images(np.full((1, 8, 8, 1), 200.0, np.float32), 8, 8, 1)
    with pytest.raises(InvalidInputError, match="empty"):
        image_io.prepare_images([], 8, 8, 1)
    with pytest.raises(InvalidInputError, match="empty"):
        image_io.prepare_images(np.zeros((0, 8, 8, 1), np.float32), 8, 8, 1)


def test_unknown_file_message_names_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_bytes(b"hello")

    with pytest.raises(InvalidInputError) as error:
        image_io.read_image(path)

    assert str(error.value) == (
        f"{path} is not a readable image (expected PNG, JPEG or PGM; received 5 bytes starting with b'hello')."
    )


def test_conversion_logs_one_warning(caplog):
    rgb = np.zeros((30, 40, 3), np.float32)

    with caplog.at_level(logging.WARNING, logger="serving.images"):
        batch = image_io.prepare_images([rgb, rgb, np.zeros((8, 8, 1), np.float32)], 8, 8, 1)

    assert batch.shape == (3, 8, 8, 1)
    assert len(caplog.records) == 1
    assert "2 of 30x40 RGB converted to 8x8 grey" in caplog.text
    assert "Converted 2 of 3 images" in caplog.text


def test_matching_images_log_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="serving.images"):
        image_io.prepare_images(np.zeros((2, 8, 8, 1), np.float32), 8, 8, 1)

    assert caplog.records == []


def test_find_part_picks_task(tmp_path):
    tiny_models.build_decoder(tmp_path / "decoder.onnx")
    tiny_models.build_encoder(tmp_path / "encoder.onnx")

    assert runtime.find_part(tmp_path, ("encoder",), CPU) == tmp_path / "encoder.onnx"
    assert runtime.OnnxModel(tmp_path, CPU, tasks=("decoder",)).path == tmp_path / "decoder.onnx"
    with pytest.raises(runtime.InvalidModelError, match=r"decoder.onnx \(zoo_task='decoder'\), encoder.onnx"):
        runtime.find_part(tmp_path, ("embedder",), CPU)
