"""Models given to `zoo serve` by artifact name are served under that name."""

import io
import pathlib

import numpy as np
import pytest
from PIL import Image

from tests.http.conftest import CPU, open_client

pytestmark = pytest.mark.backend_agnostic

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "artifacts"
NAMES = ["face-embedder-orl", "vae-fashion-mnist", "autoencoder-fashion-mnist"]


@pytest.fixture
def registry(tmp_path, monkeypatch):
    from serving.http import ModelRegistry, resolve_model_paths

    if not all((ARTIFACTS / name).is_dir() for name in NAMES):
        pytest.skip(f"the released artifacts {NAMES} are not in {ARTIFACTS}")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    loaded = ModelRegistry.load(resolve_model_paths(NAMES), max_batch=4, max_wait_ms=1.0, providers=CPU)
    yield loaded
    loaded.close()


def test_artifact_names_and_parts(registry):
    names = [model.name for model in registry.models]

    assert names == [
        "face-embedder-orl",
        "vae-fashion-mnist-decoder",
        "vae-fashion-mnist-encoder",
        "autoencoder-fashion-mnist-decoder",
        "autoencoder-fashion-mnist-encoder",
    ]
    # The stem "embedder" is claimed once, so it stays an alias; "decoder" is claimed twice.
    assert registry.get("embedder").name == "face-embedder-orl"
    assert registry.get("decoder") is None


def test_embed_by_artifact_name(registry):
    buffer = io.BytesIO()
    Image.fromarray(np.full((112, 92), 128, np.uint8)).save(buffer, format="PNG")

    with open_client(registry) as client:
        response = client.post("/models/face-embedder-orl/embed", files=[("images", ("face.png", buffer.getvalue()))])
        decoded = client.post("/models/vae-fashion-mnist-decoder/decode", json={"z": [[0.0] * 16], "format": "json"})

    assert response.status_code == 200, response.text
    # The released embedder gives dlib's 128-d face descriptor, normalised.
    assert len(response.json()["embeddings"][0]) == 128
    assert decoded.status_code == 200, decoded.text


def test_stylegan_served_by_artifact_name(tmp_path, monkeypatch):
    from serving.http import ModelRegistry, resolve_model_paths

    if not (ARTIFACTS / "stylegan-fashion-mnist").is_dir():
        pytest.skip(f"the released artifact stylegan-fashion-mnist is not in {ARTIFACTS}")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))

    pairs = resolve_model_paths(["stylegan-fashion-mnist"])
    registry = ModelRegistry.load(pairs, max_batch=4, max_wait_ms=1.0, providers=CPU)
    try:
        with open_client(registry) as client:
            sampled = client.post("/models/stylegan-fashion-mnist/sample", json={"n": 2, "psi": 0.7, "format": "json"})
            mixed = client.post("/models/stylegan-fashion-mnist/mix", json={"rows": [1], "columns": [2, 3], "format": "json"})
            # psi outside [-1, 2] is rejected before the model runs.
            overflowing = client.post("/models/stylegan-fashion-mnist/sample", json={"n": 1, "psi": 3e38})
    finally:
        registry.close()

    # The mapping and synthesis parts are read beside generator.onnx, not served on their own.
    assert [(name, path.name) for name, path in pairs] == [("stylegan-fashion-mnist", "generator.onnx")]
    assert sampled.status_code == 200, sampled.text
    assert mixed.status_code == 200, mixed.text
    assert np.asarray(sampled.json()["images"]).shape == (2, 32, 32, 1)
    assert overflowing.status_code == 422, overflowing.text
    assert overflowing.json()["field"] == "psi"
