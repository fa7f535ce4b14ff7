"""Data-parallel training against one device with the same global batch.

Each case runs `tests/scale/parallel_steps.py` in a fresh process, because
the number of CPU devices is fixed when a backend starts. The cases pick
their own backend, so they run in one pass of the suite only.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.backend_agnostic

TOLERANCE = 1e-5


def run_parallel_steps(backend, kind):
    environment = dict(
        os.environ,
        KERAS_BACKEND=backend,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "tests.scale.parallel_steps", kind],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )
    if completed.returncode != 0:
        pytest.fail(f"parallel_steps {kind} under {backend} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["toy", "triplet"])
def test_jax_data_parallel_matches_one_device(kind):
    pytest.importorskip("jax")
    result = run_parallel_steps("jax", kind)

    assert result["replicas"] == 2
    assert result["max_weight_change"] > 1e-2, "training did not move the weights"
    assert result["max_weight_difference"] < TOLERANCE


def test_tensorflow_mirrored_matches_one_device():
    # Under MirroredStrategy each replica runs the step on its half, so only
    # a model without BatchNorm or in-batch mining matches the whole batch.
    pytest.importorskip("tensorflow")
    result = run_parallel_steps("tensorflow", "linear")

    assert result["replicas"] == 2
    assert result["max_weight_change"] > 1e-2, "training did not move the weights"
    assert result["max_weight_difference"] < TOLERANCE


def test_torch_data_parallel_rejected(monkeypatch):
    import keras

    from recipes.runner import check_scaling
    from zoo.errors import InvalidConfigError

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(InvalidConfigError, match="torchrun"):
        check_scaling("data-parallel", None)
