"""`zoo train` and `zoo evaluate`."""

import json
import os

import click

from zoo.cli.arguments import check_output_folder


def _parse_settings(settings):
    overrides = {}
    for setting in settings:
        key, separator, value = setting.partition("=")
        if not separator or not key:
            raise click.BadParameter(
                f"expected KEY=VALUE, received {setting!r}", param_hint="--set"
            )
        overrides[key.strip().replace("-", "_")] = value
    return overrides


@click.command("train")
@click.argument("recipe")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run folder. Default: runs/RECIPE/UTC-TIME/.")
@click.option("--epochs", type=int, default=None, help="Override the recipe's number of epochs.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe setting; repeat for several.")
@click.option("--no-evaluate", is_flag=True, help="Skip the evaluation after training.")
@click.option("--distribute", type=click.Choice(["data-parallel"]), default=None,
              help="Split each batch over all local devices (jax, tensorflow; "
                   "under torch use torchrun with DistributedDataParallel).")
@click.option("--mixed-precision", type=click.Choice(["bfloat16", "float16"]), default=None,
              help="Compute in 16 bits with float32 variables; float16 adds a dynamic "
                   "loss scale per update phase. Default: float32.")
def train(recipe, out_dir, epochs, settings, no_evaluate, distribute, mixed_precision):
    """Train RECIPE (see `zoo list`) and write a run folder."""
    # Checked before the recipe imports Keras, so a bad --out fails at once.
    if out_dir is not None:
        check_output_folder(out_dir)

    from recipes import runner
    from zoo.errors import ZooError

    overrides = _parse_settings(settings)
    if epochs is not None:
        overrides["epochs"] = epochs
    try:
        run = runner.train(
            recipe, overrides, out_dir, evaluate=not no_evaluate,
            distribute=distribute, mixed_precision=mixed_precision,
        )
    except OSError as error:
        if out_dir is not None and _is_within(error.filename, out_dir):
            raise click.ClickException(
                f"cannot create the run folder {out_dir} ({error.strerror or error}); choose a writable --out"
            ) from error
        if not isinstance(error, FileNotFoundError):
            raise
        raise click.ClickException(str(error)) from error
    except ZooError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Run folder: {run.path}")


def _is_within(filename, folder):
    """Return True when `filename` is `folder`, a folder above it or a path inside it."""
    if filename is None:
        return False
    filename = os.path.abspath(os.fsdecode(filename))
    folder = os.path.abspath(folder)
    return folder == filename or folder.startswith(filename + os.sep) or filename.startswith(folder + os.sep)


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def evaluate(run_dir):
    """Evaluate the run in RUN_DIR and rewrite its metrics.json."""
    from recipes import runner
    from zoo.errors import ZooError

    try:
        metrics = runner.evaluate(run_dir)
    except (ZooError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(metrics, indent=2, sort_keys=True))
