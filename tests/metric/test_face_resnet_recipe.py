"""triplet-faces, which starts from dlib's pretrained face ResNet: a short real training, its export and serving."""

import json

import numpy as np
import pytest

from recipes import runner
from recipes.data.pretrained import locate_dlib_face_resnet
from zoo.errors import DataNotFoundError

pytestmark = pytest.mark.needs_data

# Two steps of training keep the pretrained network's quality, which meets
# the release goal on s31-s40 (AUC 0.999, TAR 0.973, rank-1 1.0 in the release run).
SHORT_RUN = {"epochs": 1, "steps_per_epoch": 2, "p": 4, "k": 2}
GOAL = {"auc": 0.99, "tar_far_1e-2": 0.90, "rank_1": 0.98}


@pytest.fixture(scope="module")
def weights():
    try:
        return locate_dlib_face_resnet(download=False)
    except DataNotFoundError:
        pytest.skip("dlib's face ResNet weights are not installed: pip install face_recognition_models")


@pytest.fixture(scope="module")
def run(weights, orl_dir, tmp_path_factory):
    overrides = dict(SHORT_RUN, data_dir=str(orl_dir), pretrained_weights=str(weights))
    return runner.train("triplet-faces", overrides, out_dir=tmp_path_factory.mktemp("faces") / "run")


def test_short_training_meets_goal(run):
    metrics = json.loads((run.path / "metrics.json").read_text())

    for name, goal in GOAL.items():
        assert metrics[name] >= goal, f"{name} {metrics[name]:.3f} is below the goal {goal}"
    assert metrics["eigenfaces"]["auc"] < GOAL["auc"]
    history = json.loads((run.path / "history.json").read_text())
    assert len(history["loss"]) == 1


def test_saved_kernels_on_int8_grids(run):
    from zoo.weights import int8_grid

    model = run.load_model()

    kernels = [variable for variable in model.embedder.weights if variable.path.endswith("kernel")]
    assert len(kernels) == 30
    for variable in kernels:
        values = np.asarray(variable.numpy())
        q, scale = int8_grid(values, axis=-1)
        np.testing.assert_allclose(q * scale, values, rtol=0, atol=1e-6 * np.abs(values).max(), err_msg=variable.path)


# The export runs in a TensorFlow subprocess whatever the backend.
@pytest.mark.backend_agnostic
def test_export_fits_release_and_serves(run, orl_dir):
    import onnx
    from click.testing import CliRunner

    from serving import Embedder
    from zoo.cli import main

    result = CliRunner().invoke(main, ["export", str(run.path), "--format", "onnx"])
    assert result.exit_code == 0, result.output

    path = run.path / "export" / "embedder.onnx"
    assert path.stat().st_size < 10 * 2**20
    assert "DequantizeLinear" in {node.op_type for node in onnx.load(path).graph.node}
    embedder = Embedder(path, providers=["CPUExecutionProvider"])
    same = embedder.verify(orl_dir / "s35" / "1.pgm", orl_dir / "s35" / "2.pgm")
    different = embedder.verify(orl_dir / "s35" / "1.pgm", orl_dir / "s36" / "1.pgm")
    assert same.same
    assert not different.same


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"crop": [24, 0]}, r"crop must be three integers .*Received: crop=\[24, 0\].*use \[24, 0, 92\]"),
        ({"crop": [500, 0, 92]}, r"overlaps the 112 x 92 images.*Received: crop=\[500, 0, 92\]"),
        ({"trainable_layers": ["nope"]}, r"Received: \['nope'\]\. Use \['descriptors'\]"),
        ({"trainable_layers": ["block14_relu2"]}, r"layers of the face ResNet that have weights"),
        ({"trainable_layers": []}, r"Received: \[\]"),
    ],
)
def test_bad_pretrained_settings_rejected(weights, settings, message):
    from zoo.errors import InvalidConfigError
    from zoo.metric import build_face_resnet_embedder

    arguments = {"crop": [24, 0, 92], "trainable_layers": ["descriptors"], **settings}
    with pytest.raises(InvalidConfigError, match=message):
        build_face_resnet_embedder(crop=arguments["crop"], weights=weights, trainable=arguments["trainable_layers"])
