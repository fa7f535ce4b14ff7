"""Fixtures: the tiny ONNX models of `tests.serving.tiny_models`, a loaded registry and a test client."""

import contextlib
import io

import numpy as np
import pytest
from PIL import Image

from tests.serving import tiny_models
from tests.serving.conftest import model_dir, open_set_embedder_path  # noqa: F401 (fixtures used by the tests here)

CPU = ["CPUExecutionProvider"]
SERVED = ("embedder", "decoder", "generator", "encoder", "translator")


def model_paths(folder):
    return [folder / f"{name}.onnx" for name in SERVED]


def random_pixels(seed, count=1):
    """Return uint8 (count, 8, 8, 1) grey images."""
    shape = (count, tiny_models.HEIGHT, tiny_models.WIDTH, tiny_models.CHANNELS)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_bytes(pixels):
    """Encode one uint8 (8, 8, 1) image as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0]).save(buffer, format="PNG")
    return buffer.getvalue()


def pgm_bytes(pixels):
    """Encode one uint8 (8, 8, 1) image as a binary (P5) PGM."""
    height, width = pixels.shape[:2]
    return b"P5\n%d %d\n255\n" % (width, height) + pixels.tobytes()


def as_float(pixels):
    return pixels.astype(np.float32) / np.float32(255)


def load_registry(folder, gallery_path):
    from serving.http import ModelRegistry

    return ModelRegistry.load(
        model_paths(folder),
        galleries={"embedder": gallery_path},
        max_batch=8,
        max_wait_ms=2.0,
        providers=CPU,
    )


@contextlib.contextmanager
def open_client(registry):
    from fastapi.testclient import TestClient

    from serving.http import create_app

    with TestClient(create_app(registry, max_upload_bytes=64 * 1024)) as client:
        yield client


@pytest.fixture
def registry(model_dir, tmp_path):  # noqa: F811
    loaded = load_registry(model_dir, tmp_path / "gallery.sqlite")
    yield loaded
    loaded.close()


@pytest.fixture
def client(registry):
    """A client of a server with a fresh, empty gallery."""
    with open_client(registry) as client:
        yield client


@pytest.fixture(scope="module")
def shared_client(model_dir, tmp_path_factory):  # noqa: F811
    """A client shared by the tests of one module, for requests that do not depend on the gallery."""
    loaded = load_registry(model_dir, tmp_path_factory.mktemp("gallery") / "gallery.sqlite")
    with open_client(loaded) as client:
        yield client
    loaded.close()
