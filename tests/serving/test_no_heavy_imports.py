"""`serving` must run with Keras, the backends and the training code unimportable."""

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.backend_agnostic

SCRIPT = textwrap.dedent(
    """
    import sys

    BLOCKED = {"keras", "tensorflow", "jax", "torch", "zoo", "recipes", "export"}

    class BlockHeavyImports:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked import of {name}")
            return None

    sys.meta_path.insert(0, BlockHeavyImports())

    import numpy as np
    import serving

    folder = sys.argv[1]
    providers = ["CPUExecutionProvider"]
    embedder = serving.Embedder(f"{folder}/embedder.onnx", providers=providers)
    images = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    embeddings = embedder.embed(images)
    assert embeddings.shape == (3, 6), embeddings.shape

    with serving.Gallery.open(f"{folder}/isolated.sqlite", embedder) as gallery:
        gallery.enrol("alice", images[:2])
        assert gallery.identify(images[:1], threshold=0.5)[0].name == "alice"

    decoder = serving.Decoder(f"{folder}/decoder.onnx", providers=providers)
    encoder = serving.Encoder(f"{folder}/encoder.onnx", providers=providers)
    assert decoder.sample(2, seed=0).shape == (2, 8, 8, 1)
    assert serving.reconstruct(encoder, decoder, images).shape == (3, 8, 8, 1)

    heavy = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    assert not heavy, heavy
    print("ok")
    """
)


def test_serving_runs_without_heavy_imports(model_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
