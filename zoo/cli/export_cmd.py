"""`zoo export`: export a run's parts to ONNX, SavedModel or TFLite."""

import json
import os

import click

from zoo.cli.arguments import check_output_folder, cli_message

FORMATS = ("onnx", "savedmodel", "tflite")
QUANTIZATIONS = ("int8", "float16")


@click.command("export")
@click.argument("run", type=click.Path(file_okay=False, path_type=str))
@click.option("--format", "format_", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="Artifact format.")
@click.option("--part", "parts", multiple=True,
              help="Part of model.exportable_parts() to export. Repeat for several. Default: every part.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Output folder. Default: RUN/export.")
@click.option("--overwrite", is_flag=True, help="Replace artifacts that already exist.")
@click.option("--quantize", type=click.Choice(QUANTIZATIONS), default=None,
              help="Also write a quantized copy (ONNX and TFLite only) and report its output deltas "
                   "and the change in the recipe's own metric on held-out data.")
@click.option("--import-module", "import_modules", multiple=True,
              help="Extra Python module that registers the model's custom classes. Repeat for several.")
@click.option("--triton", "triton_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write a Triton model repository for the ONNX parts into this folder.")
def export_command(run, format_, parts, out_dir, overwrite, quantize, import_modules, triton_dir):
    """Export the parts of the trained run in folder RUN and check them against Keras."""
    from export import export_run, triton
    from recipes.artifact_metrics import artifact_scorer
    from zoo.errors import ZooError

    if triton_dir is not None and format_ != "onnx":
        raise click.ClickException(f"--triton needs --format onnx. Received: --format {format_}.")
    if out_dir is not None:
        check_output_folder(out_dir, kind="export folder")
    if triton_dir is not None:
        check_output_folder(triton_dir, option="--triton", kind="Triton model repository")

    try:
        report = export_run(
            run,
            format=format_,
            parts=list(parts) or None,
            out_dir=out_dir,
            overwrite=overwrite,
            quantize=quantize,
            import_modules=import_modules,
            score_artifact=_scorer(run, quantize, artifact_scorer),
        )
        models = []
        if triton_dir is not None:
            for part in report["formats"]["onnx"]["parts"].values():
                onnx_path = part["artifacts"][0]["path"]
                models.append(triton.write_model_repository(onnx_path, triton_dir, overwrite=overwrite))
    except FileExistsError as error:
        if quantize is not None and not overwrite:
            folder = out_dir or os.path.join(run, "export")
            raise click.ClickException(
                f"export failed: files of an earlier export already exist in {folder}. The {quantize} copy "
                "is written together with the float32 files, so pass --overwrite to export both again "
                "there, or --out OTHER_FOLDER to export both into another folder."
            ) from error
        raise click.ClickException(f"export failed: {cli_message(' '.join(str(error).split()))}") from error
    except (ZooError, FileNotFoundError, RuntimeError) as error:
        # Click prints the message as is, so multi-line reports are joined into one line.
        message = cli_message(" ".join(str(error).split()))
        raise click.ClickException(f"export failed: {message}") from error

    for format_name, format_report in report["formats"].items():
        for part_name, part in format_report["parts"].items():
            for artifact in part["artifacts"]:
                deltas = json.dumps(artifact["parity"]["max_abs_diff"])
                click.echo(
                    f"{part_name}  {artifact['path']}  {artifact['size_bytes']} bytes  max abs diff {deltas}"
                )
                if "metric_change" in artifact:
                    click.echo(f"{part_name}  {artifact['path']}  {_describe_change(artifact['metric_change'])}")
    for model_dir in models:
        click.echo(f"triton  {model_dir}")
    click.echo(f"report  {report['out_dir']}/export_report.json")


def _scorer(run, quantize, artifact_scorer):
    """Return the recipe's artifact scorer when a quantized copy is written, else None.

    A folder without a readable config.json gets no scorer, so that
    `export_run` raises its own error about the run folder.
    """
    if quantize is None:
        return None
    try:
        return artifact_scorer(run)
    except (OSError, ValueError):
        return None


def _describe_change(change):
    """Format a `metric_change` report entry as one line."""
    if "skipped" in change:
        return f"metric change not measured: {change['skipped']}"
    values = [
        f"{name} {value['float32']:.6g} -> {value['quantized']:.6g} (change {value['change']:+.3g})"
        for name, value in change["metrics"].items()
    ]
    return f"{', '.join(values)} on {change['data']}"
