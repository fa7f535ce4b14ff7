"""Checks of the `zoo` CLI that run before any model loads: --out paths,
run folders and the wording of errors from the Python API."""

import click
import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.cli.arguments import check_output_file, check_output_folder, cli_message

pytestmark = pytest.mark.backend_agnostic


@pytest.fixture
def runner():
    return CliRunner()


def test_train_unwritable_out(runner):
    result = runner.invoke(main, ["train", "triplet-faces", "--out", "/proc/run"])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "cannot create the run folder /proc/run" in result.output
    assert "choose a writable --out" in result.output


def test_run_folder_check_creates_nothing(tmp_path):
    check_output_folder(tmp_path / "runs" / "mine")

    assert list(tmp_path.iterdir()) == []


def test_card_unwritable_out(runner, tmp_path):
    result = runner.invoke(main, ["card", str(tmp_path), "--name", "x", "--out", "/proc/card.md"])

    assert result.exit_code == 1
    assert "cannot write /proc/card.md" in result.output


def test_check_output_file_leaves_no_probe(tmp_path):
    path = check_output_file(tmp_path / "grid.png", (".png",))

    assert path == tmp_path / "grid.png"
    assert list(tmp_path.iterdir()) == []


def test_check_output_file_rejects_folder(tmp_path):
    (tmp_path / "grid.png").mkdir()

    with pytest.raises(click.ClickException, match="it is a folder"):
        check_output_file(tmp_path / "grid.png", (".png",))


@pytest.mark.parametrize(
    "message, expected",
    [
        ("Pass overwrite=True (--overwrite) to replace it.", "Pass --overwrite to replace it."),
        ("Pass replace=True to replace their embeddings.", "Pass --replace to replace their embeddings."),
        ("Pass overwrite=True to replace it.", "Pass --overwrite to replace it."),
        ("Export it (zoo export RUN_DIR), or pass mapping_path= to StyleGenerator.", "Export it (zoo export RUN_DIR)."),
    ],
)
def test_cli_message_uses_flags(message, expected):
    assert cli_message(message) == expected


def test_export_quantize_after_float_export(runner, tmp_path, monkeypatch):
    import export

    def export_run(*args, **kwargs):
        raise FileExistsError(
            f"The export output already exists: ['{tmp_path}/export/embedder.onnx']. Expected a free path. "
            "Pass overwrite=True (--overwrite) to replace it, or choose another output folder."
        )

    monkeypatch.setattr(export, "export_run", export_run)

    result = runner.invoke(main, ["export", str(tmp_path), "--quantize", "int8"])

    assert result.exit_code == 1
    assert "overwrite=True" not in result.output
    assert "pass --overwrite to export both again" in result.output
    assert f"{tmp_path}/export" in result.output

    result = runner.invoke(main, ["export", str(tmp_path)])

    assert result.exit_code == 1
    assert "Pass --overwrite to replace it" in result.output
    assert "overwrite=True" not in result.output


def test_bench_checks_outputs_before_running(runner, tmp_path):
    result = runner.invoke(main, ["bench", "startup", "--out", "/proc/report.json"])

    assert result.exit_code == 1
    assert "cannot write /proc/report.json" in result.output
    assert "choose a writable --out" in result.output

    result = runner.invoke(main, ["bench", "startup", "--results-md", str(tmp_path / "missing" / "RESULTS.md")])

    assert result.exit_code == 1
    assert "the folder" in result.output
    assert "does not exist" in result.output
    assert "--results-md" in result.output


@pytest.mark.parametrize("value", ["{folder}/gallery.sqlite", "embedder={folder}/gallery.sqlite"])
def test_serve_gallery_folder_must_exist(runner, tmp_path, value):
    model = tmp_path / "embedder.onnx"
    model.write_bytes(b"not read: the gallery check runs first")
    folder = tmp_path / "missing"

    result = runner.invoke(main, ["serve", str(model), "--gallery", value.format(folder=folder)])

    assert result.exit_code == 1
    assert f"the folder {folder} does not exist" in result.output
    assert not folder.exists()


def test_cli_seed_limit_matches_http():
    pytest.importorskip("fastapi", reason="the HTTP server needs the serve extra (pip install 'beyond-zoo[serve]')")
    from serving.http.bodies import MAX_SEED as HTTP_MAX_SEED
    from zoo.cli.serving import MAX_SEED as CLI_MAX_SEED

    # The CLI keeps its own copy so that loading it imports no onnxruntime;
    # a seed accepted by `zoo sample` must also be accepted by POST /sample.
    assert CLI_MAX_SEED == HTTP_MAX_SEED == 2**63 - 1
