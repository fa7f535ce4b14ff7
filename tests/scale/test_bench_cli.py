"""`zoo bench` and `zoo train` options through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from zoo.cli import main

pytestmark = pytest.mark.backend_agnostic


def test_bench_startup_writes_ratio(tmp_path):
    out = tmp_path / "report.json"
    markdown = tmp_path / "RESULTS.md"

    result = CliRunner().invoke(main, ["bench", "startup", "--out", str(out), "--results-md", str(markdown)])

    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    # `zoo --help` imports click and more than a bare interpreter does.
    assert report["startup"]["zoo_help_over_python"] > 1.0
    assert "## Start-up" in markdown.read_text()


def test_train_rejects_unknown_precision():
    result = CliRunner().invoke(main, ["train", "triplet-faces", "--mixed-precision", "int8"])

    assert result.exit_code == 2
    assert "int8" in result.output


def test_bench_prints_estimate_and_progress(tmp_path):
    out = tmp_path / "report.json"

    result = CliRunner().invoke(main, ["bench", "startup", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "rough estimate" in result.output
    assert "[1/1] startup done in" in result.output


def test_bench_rejects_unknown_backend(tmp_path):
    result = CliRunner().invoke(main, ["bench", "training", "--backends", "tensorflow,theano",
                                       "--out", str(tmp_path / "report.json")])

    assert result.exit_code == 2
    assert "theano" in result.output
