"""Artifacts with several parts: resolving a name, picking a part by task, serving names."""

import hashlib
import json
import logging

import numpy as np
import onnx
import pytest

from serving import Decoder, Embedder, Encoder, InvalidModelError, hub, load_generator
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]


def _set_model_name(path, model_name):
    # Exports give every part of a run the same model_name (the recipe name).
    model = onnx.load(path)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    metadata["model_name"] = model_name
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, path)


def _entry(root, name, files, task):
    listed = []
    for file in files:
        data = (root / name / file).read_bytes()
        listed.append({"path": f"{name}/{file}", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    return {"name": name, "task": task, "files": listed, "url": str(root)}


@pytest.fixture
def manifest(tmp_path):
    """A mirror with a plain autoencoder, a VAE (two parts each) and a one-part embedder."""
    root = tmp_path / "mirror"
    for name, variational in (("tiny-ae", False), ("tiny-vae", True)):
        (root / name).mkdir(parents=True)
        tiny_models.build_decoder(root / name / "decoder.onnx")
        tiny_models.build_encoder(root / name / "encoder.onnx", variational=variational)
        for part in ("decoder", "encoder"):
            _set_model_name(root / name / f"{part}.onnx", name)
    (root / "tiny-embedder").mkdir()
    tiny_models.build_embedder(root / "tiny-embedder" / "embedder.onnx")

    entries = [
        _entry(root, "tiny-ae", ["decoder.onnx", "encoder.onnx"], "autoencoder"),
        _entry(root, "tiny-vae", ["decoder.onnx", "encoder.onnx"], "autoencoder"),
        _entry(root, "tiny-embedder", ["embedder.onnx"], "embedder"),
    ]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema_version": 1, "artifacts": entries}))
    return hub.read_manifest(path)


def _resolve(name, manifest, cache_dir):
    return hub.resolve(name, manifest=manifest, cache_dir=cache_dir, progress=False)


def test_resolve_multi_part_gives_folder(manifest, tmp_path):
    cache_dir = tmp_path / "cache"

    folder = _resolve("tiny-ae", manifest, cache_dir)
    single = _resolve("tiny-embedder", manifest, cache_dir)

    assert folder == cache_dir / "artifacts" / "tiny-ae"
    assert sorted(path.name for path in folder.iterdir()) == ["decoder.onnx", "encoder.onnx"]
    assert single == cache_dir / "artifacts" / "tiny-embedder" / "embedder.onnx"


def test_wrappers_pick_their_part(manifest, tmp_path):
    folder = _resolve("tiny-vae", manifest, tmp_path / "cache")

    encoder = Encoder(folder, providers=CPU)
    decoder = Decoder(folder, providers=CPU)

    assert encoder.path == folder / "encoder.onnx"
    assert decoder.path == folder / "decoder.onnx"
    images = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(encoder.encode(images), tiny_models.encode_numpy(images), atol=1e-5)


def test_load_generator_takes_folder(manifest, tmp_path):
    folder = _resolve("tiny-ae", manifest, tmp_path / "cache")

    decoder = load_generator(folder, providers=CPU)

    assert isinstance(decoder, Decoder)
    assert decoder.path == folder / "decoder.onnx"


def test_no_fitting_part_names_parts(manifest, tmp_path):
    folder = _resolve("tiny-ae", manifest, tmp_path / "cache")

    with pytest.raises(InvalidModelError) as error:
        Embedder(folder, providers=CPU)

    message = str(error.value)
    assert "['embedder']" in message
    assert "decoder.onnx (zoo_task='decoder')" in message
    assert "encoder.onnx (zoo_task='encoder')" in message


def test_load_multi_part_gives_decoder(manifest, tmp_path):
    model = hub.load("tiny-ae", manifest=manifest, cache_dir=tmp_path / "cache", progress=False, providers=CPU)

    assert isinstance(model, Decoder)
    assert model.path.name == "decoder.onnx"


def test_resolve_parts_names(manifest, tmp_path):
    cache_dir = tmp_path / "cache"

    parts = hub.resolve_parts("tiny-ae", manifest=manifest, cache_dir=cache_dir, progress=False)
    single = hub.resolve_parts("tiny-embedder", manifest=manifest, cache_dir=cache_dir, progress=False)
    by_path = hub.resolve_parts(str(single[0][1]), manifest=manifest)

    assert [name for name, _ in parts] == ["tiny-ae-decoder", "tiny-ae-encoder"]
    assert [path.name for _, path in parts] == ["decoder.onnx", "encoder.onnx"]
    assert [name for name, _ in single] == ["tiny-embedder"]
    assert by_path == [("embedder", single[0][1])]


def test_plain_decoder_sample_warns_once(manifest, tmp_path, caplog):
    folder = _resolve("tiny-ae", manifest, tmp_path / "cache")
    decoder = Decoder(folder, providers=CPU)

    with caplog.at_level(logging.WARNING, logger="serving.generative"):
        decoder.sample(2)
        decoder.sample(2)

    assert len(caplog.records) == 1
    assert "not this decoder's latent distribution" in caplog.text
    assert "encoder.onnx outputs a deterministic z" in caplog.text


def test_vae_decoder_sample_is_quiet(manifest, tmp_path, caplog):
    folder = _resolve("tiny-vae", manifest, tmp_path / "cache")
    decoder = Decoder(folder, providers=CPU)

    with caplog.at_level(logging.WARNING, logger="serving.generative"):
        images = decoder.sample(2)

    assert images.shape == (2, 8, 8, 1)
    assert caplog.records == []
