"""Fixtures: the tiny ONNX models of `tiny_models`, built once per session."""

import pytest

from tests.serving import tiny_models


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    tiny_models.build_embedder(folder / "embedder.onnx")
    tiny_models.build_embedder(folder / "embedder_raw.onnx", normalise=False)
    tiny_models.build_embedder(folder / "embedder_open_set.onnx", open_set=True)
    tiny_models.build_decoder(folder / "decoder.onnx")
    tiny_models.build_decoder(folder / "generator.onnx", task="generator")
    tiny_models.build_decoder(folder / "decoder_overshoot.onnx", shift=0.5)
    tiny_models.build_encoder(folder / "encoder.onnx")
    tiny_models.build_encoder(folder / "vae_encoder.onnx", variational=True)
    tiny_models.build_translator(folder / "translator.onnx")
    return folder


@pytest.fixture(scope="session")
def embedder_path(model_dir):
    return model_dir / "embedder.onnx"


@pytest.fixture(scope="session")
def open_set_embedder_path(model_dir):
    """An embedder whose metadata has an open-set threshold for FPIR 1e-2 as well as the 1:1 ones."""
    return model_dir / "embedder_open_set.onnx"


@pytest.fixture(scope="session")
def decoder_path(model_dir):
    return model_dir / "decoder.onnx"


@pytest.fixture(scope="session")
def encoder_path(model_dir):
    return model_dir / "encoder.onnx"


@pytest.fixture(scope="session")
def translator_path(model_dir):
    return model_dir / "translator.onnx"


@pytest.fixture(scope="session")
def style_dir(tmp_path_factory):
    """A tiny StyleGAN generator split into its mapping and synthesis parts."""
    folder = tmp_path_factory.mktemp("stylegan")
    tiny_models.build_style_parts(folder)
    return folder
