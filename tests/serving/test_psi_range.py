"""The accepted truncation psi, [PSI_MIN, PSI_MAX], in StyleGenerator, `zoo sample` / `zoo mix` and HTTP."""

import numpy as np
import pytest
from click.testing import CliRunner

from serving import InvalidInputError, StyleGenerator
from serving.stylegan import PSI_MAX, PSI_MIN, check_psi
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]
LATENT = tiny_models.LATENT_DIM
INVALID_PSI = [1e30, -1e30, 3e38, PSI_MIN - 0.01, PSI_MAX + 0.01, float("nan"), float("inf")]


@pytest.fixture(scope="module")
def generator(style_dir):
    return StyleGenerator(style_dir / "generator.onnx", providers=CPU)


def test_psi_range_bounds_accepted():
    psi = check_psi([PSI_MIN, 0.0, 0.7, 1.0, PSI_MAX], 5)

    np.testing.assert_array_equal(psi[:, 0], np.float32([-1.0, 0.0, 0.7, 1.0, 2.0]))


@pytest.mark.parametrize("psi", INVALID_PSI)
def test_invalid_psi_rejected(generator, psi):
    with pytest.raises(InvalidInputError, match=r"psi must be a finite number from -1 to 2.*Received: .*Use a psi from 0.5 to 1"):
        generator.sample(2, psi=psi)
    with pytest.raises(InvalidInputError, match="psi must be a finite number from -1 to 2"):
        generator.map(np.zeros((1, LATENT), np.float32), psi=psi)


def test_psi_per_latent_out_of_range_rejected(generator):
    with pytest.raises(InvalidInputError, match="psi must be a finite number from -1 to 2"):
        generator.decode(np.zeros((3, LATENT), np.float32), psi=[0.5, 1.0, 1e30])


def test_cli_sample_and_mix_reject_psi(style_dir, tmp_path):
    from zoo.cli import main

    runner = CliRunner()
    model = str(style_dir / "generator.onnx")
    out = tmp_path / "grid.png"

    for command in (["sample", "--n", "2"], ["mix", "--rows", "1", "--columns", "2"]):
        result = runner.invoke(main, [command[0], model, *command[1:], "--psi", "1e30", "--out", str(out)])

        assert result.exit_code == 1, result.output
        assert "psi must be a finite number from -1 to 2" in result.output
        assert "Received: 1e+30" in result.output
        assert "Traceback" not in result.output
        assert not out.exists()


def test_http_sample_and_mix_reject_psi(style_dir):
    from fastapi.testclient import TestClient

    from serving.http import ModelRegistry, create_app

    registry = ModelRegistry.load([style_dir / "generator.onnx"], max_batch=8, max_wait_ms=2.0, providers=CPU)
    try:
        with TestClient(create_app(registry)) as client:
            sample = client.post("/models/generator/sample", json={"n": 2, "psi": 1e30})
            mix = client.post("/models/generator/mix", json={"rows": [1], "columns": [2], "psi": -3})
            in_range = client.post("/models/generator/sample", json={"n": 2, "psi": PSI_MAX, "format": "json"})
    finally:
        registry.close()

    assert sample.status_code == 422
    assert sample.json()["field"] == "psi"
    assert sample.json()["expected"] == "a finite number from -1 to 2"
    assert mix.status_code == 422
    assert mix.json()["field"] == "psi"
    assert in_range.status_code == 200, in_range.text
