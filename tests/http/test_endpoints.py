"""Each endpoint of the HTTP server, with golden values from numpy."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from serving.generative import interpolate_latents, make_grid
from serving.images import to_uint8
from tests.http.conftest import as_float, pgm_bytes, png_bytes, random_pixels
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

ATOL = 1e-5


def decode_png(data):
    array = np.asarray(Image.open(io.BytesIO(data)))
    return array[:, :, None] if array.ndim == 2 else array


def b64(data):
    return base64.b64encode(data).decode("ascii")


def test_health_ready_models(client):
    assert client.get("/health").json() == {"status": "ok"}

    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["models"] == ["embedder", "decoder", "generator", "encoder", "translator"]

    listed = {model["name"]: model for model in client.get("/models").json()["models"]}
    assert listed["embedder"]["task"] == "embedder"
    assert listed["embedder"]["aliases"] == ["tiny-embedder"]
    assert listed["generator"]["aliases"] == ["tiny-generator"]


def test_model_details(client):
    details = client.get("/models/embedder").json()
    assert details["metadata"]["embedding_dim"] == "6"
    assert details["inputs"] == [{"name": "images", "shape": [None, 8, 8, 1], "element_type": "tensor(float)"}]
    assert details["outputs"][0]["name"] == "embeddings"
    assert details["gallery"] is True
    assert details["provider"] == "CPUExecutionProvider"

    by_alias = client.get("/models/tiny-embedder")
    assert by_alias.status_code == 200
    assert by_alias.json()["name"] == "embedder"


def test_embed_multipart_and_json(client):
    pixels = random_pixels(0, 3)
    expected = tiny_models.embed_numpy(as_float(pixels))

    files = [("images", (f"{i}.png", png_bytes(image), "image/png")) for i, image in enumerate(pixels)]
    response = client.post("/models/embedder/embed", files=files)
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["embeddings"], expected, atol=ATOL)
    assert response.json()["embedding_dim"] == 6

    body = {"images": [b64(pgm_bytes(image)) for image in pixels]}
    response = client.post("/models/embedder/embed", json=body)
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["embeddings"], expected, atol=ATOL)


def test_verify_same_and_different(client):
    pixels = random_pixels(1, 2)
    same = client.post(
        "/models/embedder/verify",
        files={"image_a": ("a.png", png_bytes(pixels[0])), "image_b": ("b.pgm", pgm_bytes(pixels[0]))},
    ).json()
    assert same["distance"] == pytest.approx(0.0, abs=ATOL)
    assert same["threshold"] == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert same["same"] is True

    embeddings = tiny_models.embed_numpy(as_float(pixels))
    golden = float(np.linalg.norm(embeddings[0] - embeddings[1]))
    different = client.post(
        "/models/embedder/verify",
        json={"image_a": b64(png_bytes(pixels[0])), "image_b": b64(png_bytes(pixels[1])), "far": 1e-3},
    ).json()
    assert different["distance"] == pytest.approx(golden, abs=ATOL)
    assert different["threshold"] == pytest.approx(tiny_models.THRESHOLD_FAR_1E3)
    assert different["same"] is (golden <= tiny_models.THRESHOLD_FAR_1E3)

    forced = client.post(
        "/models/embedder/verify",
        json={"image_a": b64(png_bytes(pixels[0])), "image_b": b64(png_bytes(pixels[1])), "threshold": 2.0},
    ).json()
    assert forced["same"] is True
    assert forced["far"] is None


def test_gallery_enrol_identify_remove(client, registry):
    alice, bob, stranger = random_pixels(2, 3)

    response = client.post("/models/embedder/gallery", files=[("images", ("a.png", png_bytes(alice)))], data={"name": "alice"})
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "alice", "embeddings": 1, "people": 1}
    response = client.post("/models/embedder/gallery", json={"name": "bob", "images": [b64(png_bytes(bob)), b64(pgm_bytes(bob))]})
    assert response.json() == {"name": "bob", "embeddings": 2, "people": 2}

    listed = client.get("/models/embedder/gallery").json()
    assert listed["people"] == [{"name": "alice", "embeddings": 1}, {"name": "bob", "embeddings": 2}]

    # The enrolment is in the SQLite file, not only in memory.
    stored = registry.get("embedder").gallery.path
    import sqlite3

    with sqlite3.connect(stored) as connection:
        assert connection.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 3

    embeddings = tiny_models.embed_numpy(as_float(np.stack([alice, bob, stranger])))
    stranger_to_alice = float(np.linalg.norm(embeddings[2] - embeddings[0]))
    stranger_to_bob = float(np.linalg.norm(embeddings[2] - embeddings[1]))
    response = client.post(
        "/models/embedder/identify",
        files=[("images", ("a.png", png_bytes(alice))), ("images", ("s.png", png_bytes(stranger)))],
        data={"k": "2", "threshold": "0.5"},
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["name"] == "alice"
    assert results[0]["distance"] == pytest.approx(0.0, abs=ATOL)
    nearest_for_stranger = sorted([("alice", stranger_to_alice), ("bob", stranger_to_bob)], key=lambda pair: pair[1])
    assert [match["name"] for match in results[1]["matches"]] == [name for name, _ in nearest_for_stranger]
    assert results[1]["matches"][0]["distance"] == pytest.approx(nearest_for_stranger[0][1], abs=ATOL)
    assert results[1]["name"] == (nearest_for_stranger[0][0] if nearest_for_stranger[0][1] <= 0.5 else None)

    duplicate = client.post("/models/embedder/gallery", json={"name": "alice", "images": [b64(png_bytes(bob))]})
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    replaced = client.post("/models/embedder/gallery", json={"name": "alice", "images": [b64(png_bytes(bob))], "replace": True})
    assert replaced.status_code == 201

    removed = client.delete("/models/embedder/gallery/bob")
    assert removed.json() == {"removed": "bob", "people": 1}
    assert client.delete("/models/embedder/gallery/bob").status_code == 404


def test_identify_empty_gallery(client):
    response = client.post("/models/embedder/identify", json={"images": [b64(png_bytes(random_pixels(3)[0]))]})
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"name": None, "nearest": None, "distance": None, "matches": []}]


def test_identify_default_threshold(client, open_set_embedder_path, tmp_path):
    from serving.http import ModelRegistry
    from tests.http.conftest import open_client

    image = b64(png_bytes(random_pixels(4)[0]))

    # The tiny embedder has only 1:1 thresholds, so identify falls back to FAR 1e-2.
    response = client.post("/models/embedder/identify", json={"images": [image]})
    assert response.status_code == 200, response.text
    assert response.json()["threshold"] == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert response.json()["far"] == 0.01
    assert response.json()["fpir"] is None

    registry = ModelRegistry.load(
        [("open_set", open_set_embedder_path)],
        galleries={"open_set": tmp_path / "open_set.sqlite"},
        providers=["CPUExecutionProvider"],
    )
    try:
        with open_client(registry) as open_set_client:
            default = open_set_client.post("/models/open_set/identify", json={"images": [image]})
            by_far = open_set_client.post("/models/open_set/identify", json={"images": [image], "far": 0.01})
            by_fpir = open_set_client.post("/models/open_set/identify", json={"images": [image], "fpir": 0.01})
            missing = open_set_client.post("/models/open_set/identify", json={"images": [image], "fpir": 0.001})
    finally:
        registry.close()

    assert default.status_code == 200, default.text
    assert default.json()["threshold"] == pytest.approx(tiny_models.THRESHOLD_FPIR_1E2)
    assert default.json()["fpir"] == 0.01
    assert default.json()["far"] is None
    assert by_far.json()["threshold"] == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert by_far.json()["far"] == 0.01
    assert by_far.json()["fpir"] is None
    assert by_fpir.json() == default.json()
    assert missing.status_code == 422
    assert missing.json()["field"] == "fpir"


def test_identify_without_stored_thresholds(client, monkeypatch):
    from serving import Embedder, InvalidModelError

    def no_thresholds(self):
        raise InvalidModelError("the model stores no thresholds")

    monkeypatch.setattr(Embedder, "identify_threshold", no_thresholds)
    image = b64(png_bytes(random_pixels(4)[0]))

    response = client.post("/models/embedder/identify", json={"images": [image]})

    assert response.status_code == 422
    assert response.json()["field"] == "threshold"
    assert "Send a threshold." in response.json()["detail"]


def test_sample_png_json_base64(client):
    z = np.random.default_rng(5).standard_normal((3, tiny_models.LATENT_DIM)).astype(np.float32)
    expected = tiny_models.decode_numpy(z)

    response = client.post("/models/decoder/sample", json={"n": 3, "seed": 5, "format": "json"})
    assert response.status_code == 200, response.text
    assert response.json()["shape"] == [3, 8, 8, 1]
    np.testing.assert_allclose(response.json()["images"], expected, atol=ATOL)

    response = client.post("/models/generator/sample", json={"n": 3, "seed": 5, "ncols": 2})
    assert response.headers["content-type"] == "image/png"
    grid = decode_png(response.content)
    golden = to_uint8(make_grid(expected.astype(np.float32), ncols=2))
    assert grid.shape == golden.shape
    assert np.abs(grid.astype(int) - golden.astype(int)).max() <= 1

    response = client.post("/models/decoder/sample", json={"n": 3, "seed": 5, "format": "base64"})
    images = [decode_png(base64.b64decode(item)) for item in response.json()["images"]]
    assert len(images) == 3
    assert np.abs(images[2].astype(int) - to_uint8(expected[2]).astype(int)).max() <= 1

    # Sampling with no body uses n=16, seed=0, format=png.
    default = client.post("/models/decoder/sample")
    assert default.status_code == 200
    assert decode_png(default.content).shape == (2 + 2 * 10, 2 + 8 * 10, 1)


def test_decode_and_interpolate(client):
    z = np.random.default_rng(6).standard_normal((2, tiny_models.LATENT_DIM))
    response = client.post("/models/decoder/decode", json={"z": z.tolist(), "format": "json"})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["images"], tiny_models.decode_numpy(z), atol=ATOL)

    path = interpolate_latents(z[0], z[1], 5, "slerp")
    response = client.post(
        "/models/decoder/interpolate",
        json={"z0": z[0].tolist(), "z1": z[1].tolist(), "steps": 5, "method": "slerp", "format": "json"},
    )
    assert response.status_code == 200, response.text
    images = np.asarray(response.json()["images"])
    assert images.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(images, tiny_models.decode_numpy(path), atol=ATOL)
    np.testing.assert_allclose(images[0], tiny_models.decode_numpy(z[:1])[0], atol=ATOL)


def test_reconstruct_and_translate(client):
    pixels = random_pixels(7, 2)
    files = [("images", (f"{i}.png", png_bytes(image))) for i, image in enumerate(pixels)]

    response = client.post("/models/encoder/reconstruct", files=files, data={"format": "json"})
    assert response.status_code == 200, response.text
    golden = tiny_models.decode_numpy(tiny_models.encode_numpy(as_float(pixels)))
    np.testing.assert_allclose(response.json()["images"], golden, atol=ATOL)

    named = client.post("/models/encoder/reconstruct", files=files, data={"format": "json", "decoder": "generator"})
    np.testing.assert_allclose(named.json()["images"], golden, atol=ATOL)

    response = client.post("/models/translator/translate", json={"images": [b64(png_bytes(pixels[0]))], "format": "json"})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["images"], 1.0 - as_float(pixels[:1]), atol=ATOL)


def test_committed_openapi_matches_app():
    from serving.http.openapi import OPENAPI_PATH, openapi_schema

    committed = json.loads(OPENAPI_PATH.read_text())
    assert committed == json.loads(json.dumps(openapi_schema())), (
        "serving/openapi.json is out of date: run python -m serving.http.openapi"
    )
