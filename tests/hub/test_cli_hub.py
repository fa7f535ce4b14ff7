"""`zoo pull` and artifact names in the serving commands, run with click's CliRunner."""

import pathlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from serving import hub
from tests.hub.conftest import ARTIFACT

pytestmark = pytest.mark.backend_agnostic


@pytest.fixture
def runner():
    return CliRunner()


def test_pull_list_shows_artifacts(runner, file_manifest):
    from zoo.cli import main

    result = runner.invoke(main, ["pull", "--list", "--manifest", str(file_manifest)])

    assert result.exit_code == 0, result.output
    name, task, size, metrics, variants = result.output.strip().split("\t")
    assert (name, task, metrics, variants) == (ARTIFACT, "embedder", "verification.roc_auc=0.5", "float32")
    assert size.endswith("KB")


def test_pull_list_shows_part_tasks(runner):
    from zoo.cli import main

    manifest = pathlib.Path(__file__).resolve().parents[2] / "artifacts" / "manifest.json"
    result = runner.invoke(main, ["pull", "--list", "--manifest", str(manifest)])

    assert result.exit_code == 0, result.output
    tasks = dict(line.split("\t")[:2] for line in result.output.strip().splitlines())
    assert tasks["autoencoder-fashion-mnist"] == "autoencoder (decoder: decoder, encoder: encoder)"
    assert tasks["face-embedder-orl"] == "embedder"


def test_pull_command_fetches_variant(runner, int8_manifest, cache_dir):
    from zoo.cli import main

    args = ["pull", ARTIFACT, "--manifest", str(int8_manifest), "--cache-dir", str(cache_dir), "--no-progress"]
    listed = runner.invoke(main, ["pull", "--list", "--manifest", str(int8_manifest)])
    result = runner.invoke(main, [*args, "--quantize", "int8"])
    missing = runner.invoke(main, [*args, "--quantize", "float16"])

    expected = cache_dir / "artifacts" / ARTIFACT / "model.int8.onnx"
    assert listed.output.strip().endswith("\tfloat32,int8")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(expected)
    assert not (cache_dir / "artifacts" / ARTIFACT / "model.onnx").exists()
    assert missing.exit_code == 1
    assert "Available variants: float32, int8" in missing.output


def test_pull_command_prints_path(runner, file_manifest, cache_dir):
    from zoo.cli import main

    args = ["pull", ARTIFACT, "--manifest", str(file_manifest), "--cache-dir", str(cache_dir), "--no-progress"]
    result = runner.invoke(main, args)

    expected = cache_dir / "artifacts" / ARTIFACT / "model.onnx"
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(expected)
    assert expected.is_file()


def test_pull_command_unwritable_cache(runner, file_manifest, tmp_path):
    from zoo.cli import main

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should go")
    args = ["pull", ARTIFACT, "--manifest", str(file_manifest), "--cache-dir", str(blocker / "cache"), "--no-progress"]
    result = runner.invoke(main, args)

    assert result.exit_code == 1
    assert "Error: Writing the cache failed" in result.output
    assert "Traceback" not in result.output


def test_pull_command_rejects_bad_name(runner, file_manifest, cache_dir):
    from zoo.cli import main

    result = runner.invoke(main, ["pull", "../x", "--manifest", str(file_manifest), "--cache-dir", str(cache_dir)])

    assert result.exit_code == 1
    assert "Error: An artifact name must contain only" in result.output
    assert not cache_dir.exists()


def test_verify_accepts_artifact_name(runner, file_manifest, cache_dir, tmp_path, monkeypatch):
    from zoo.cli import main

    monkeypatch.setattr(hub, "PACKAGED_MANIFEST", file_manifest)
    monkeypatch.setenv("ZOO_HOME", str(cache_dir))
    image = tmp_path / "face.png"
    Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(image)

    result = runner.invoke(main, ["verify", ARTIFACT, str(image), str(image)])
    unknown = runner.invoke(main, ["verify", "no-such-model", str(image), str(image)])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("same")
    assert (cache_dir / "artifacts" / ARTIFACT / "model.onnx").is_file()
    assert unknown.exit_code == 2
    assert f"Known names: {ARTIFACT}" in unknown.output


def test_pull_list_rejects_a_name(runner, file_manifest):
    from zoo.cli import main

    result = runner.invoke(main, ["pull", "--list", ARTIFACT, "--manifest", str(file_manifest)])

    assert result.exit_code == 2
    assert "takes no NAME" in result.output
