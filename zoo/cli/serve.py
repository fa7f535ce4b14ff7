"""`zoo serve`: serve exported ONNX models over HTTP.

The command imports only `serving` (numpy, onnxruntime) and the `serve`
extra (FastAPI, uvicorn); it never imports Keras or a backend.
"""

import click

from zoo.cli.arguments import check_gallery_folder, check_model_path, cli_message


def _check_model_paths(ctx, param, values):
    """Check that each MODEL written as a path is a file. `serve` resolves artifact names itself."""
    try:
        for value in values:
            check_model_path(value)
    except click.BadParameter as error:
        raise click.BadParameter(error.message, ctx=ctx, param=param) from error
    return values


def _check_gallery_folders(ctx, param, values):
    """Check the folder of each --gallery FILE or MODEL=FILE. `serve` parses the model names itself."""
    for value in values:
        _, separator, target = value.partition("=")
        check_gallery_folder(target if separator else value)
    return values


@click.command("serve")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False), callback=_check_model_paths)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port to listen on.")
@click.option(
    "--gallery",
    "galleries",
    multiple=True,
    callback=_check_gallery_folders,
    help="SQLite gallery file of the only embedder, or MODEL=FILE per embedder; created when absent. Repeatable.",
)
@click.option("--pair", "pairs", multiple=True, help="ENCODER=DECODER used by /reconstruct. Repeatable.")
@click.option("--max-batch", default=32, show_default=True, type=click.IntRange(1, 4096), help="Maximum rows per grouped onnxruntime call.")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(0, 1000), help="How long a group waits for more requests, in milliseconds.")
@click.option("--max-upload-mb", default=10.0, show_default=True, type=click.FloatRange(0, 1024, min_open=True), help="Largest request body, in MiB; larger ones get 413.")
@click.option("--cpu", is_flag=True, help="Run on the CPU even where CUDA is usable.")
def serve_command(models, host, port, galleries, pairs, max_batch, max_wait_ms, max_upload_mb, cpu):
    """Serve the ONNX files MODELS over HTTP until interrupted.

    MODELS are .onnx paths or released names. A model's name in URLs is the
    artifact name (ARTIFACT-PART for each part of an artifact with several
    parts) or, for a path, the file stem; the file stem and the
    `model_name` metadata work too when no other model claims them.
    """
    from serving.errors import ServingError

    try:
        import fastapi  # noqa: F401 (checked here so that a missing extra gets a one-line message)
        import uvicorn  # noqa: F401

        from serving.http import serve
    except ImportError as error:
        raise click.ClickException(
            f"zoo serve needs FastAPI and uvicorn ({error}). Install them with: pip install 'beyond-zoo[serve]'"
        ) from error

    try:
        serve(
            models,
            host=host,
            port=port,
            galleries=galleries,
            pairs=pairs,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_upload_mb=max_upload_mb,
            providers=["CPUExecutionProvider"] if cpu else None,
        )
    except ServingError as error:
        raise click.ClickException(cli_message(str(error))) from error
