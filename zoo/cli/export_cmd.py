"""`zoo export`: export a run's parts to ONNX, SavedModel or TFLite."""

import json

import click

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
              help="Also write a quantized copy (ONNX and TFLite only) and report its output deltas.")
@click.option("--import-module", "import_modules", multiple=True,
              help="Extra Python module that registers the model's custom classes. Repeat for several.")
@click.option("--triton", "triton_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write a Triton model repository for the ONNX parts into this folder.")
def export_command(run, format_, parts, out_dir, overwrite, quantize, import_modules, triton_dir):
    """Export the parts of the trained run in folder RUN and check them against Keras."""
    from export import export_run, triton
    from zoo.errors import ZooError

    if triton_dir is not None and format_ != "onnx":
        raise click.ClickException(f"--triton needs --format onnx. Received: --format {format_}.")

    try:
        report = export_run(
            run,
            format=format_,
            parts=list(parts) or None,
            out_dir=out_dir,
            overwrite=overwrite,
            quantize=quantize,
            import_modules=import_modules,
        )
        models = []
        if triton_dir is not None:
            for part in report["formats"]["onnx"]["parts"].values():
                onnx_path = part["artifacts"][0]["path"]
                models.append(triton.write_model_repository(onnx_path, triton_dir, overwrite=overwrite))
    except (ZooError, FileNotFoundError, FileExistsError, RuntimeError) as error:
        # Click prints the message as is, so multi-line reports are joined into one line.
        message = " ".join(str(error).split())
        raise click.ClickException(f"export failed: {message}") from error

    for format_name, format_report in report["formats"].items():
        for part_name, part in format_report["parts"].items():
            for artifact in part["artifacts"]:
                deltas = json.dumps(artifact["parity"]["max_abs_diff"])
                click.echo(
                    f"{part_name}  {artifact['path']}  {artifact['size_bytes']} bytes  max abs diff {deltas}"
                )
    for model_dir in models:
        click.echo(f"triton  {model_dir}")
    click.echo(f"report  {report['out_dir']}/export_report.json")
