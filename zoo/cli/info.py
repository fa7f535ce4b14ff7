"""`zoo list` and `zoo info`."""

import importlib.metadata
import platform

import click


@click.command("list")
def list_command():
    """List every registered model and recipe with a one-line description."""
    from recipes import RECIPES
    from zoo.registry import MODELS

    click.echo("Models:")
    for name, (_, description) in sorted(MODELS.items()):
        click.echo(f"  {name:<28} {description}")
    click.echo("Recipes:")
    for name, (_, description) in sorted(RECIPES.items()):
        click.echo(f"  {name:<28} {description}")


@click.command("info")
def info_command():
    """Show the Keras backend, its devices and the library versions."""
    import keras

    from zoo.backend import list_devices

    backend = keras.backend.backend()
    click.echo(f"python      {platform.python_version()} ({platform.machine()})")
    click.echo(f"keras       {keras.__version__}")
    click.echo(f"backend     {backend}")
    click.echo(f"devices     {', '.join(list_devices())}")
    for package in ("tensorflow", "jax", "torch", "onnx", "tf2onnx", "numpy"):
        click.echo(f"{package:<11} {_version(package)}")

    # The `onnxruntime` module ships in either of two distributions; naming
    # both would report one of them as missing when the other is installed.
    runtime = [name for name in ("onnxruntime-gpu", "onnxruntime") if _version(name) != "not installed"]
    if runtime:
        click.echo(f"{'onnxruntime':<11} {_version(runtime[0])} ({runtime[0]})")
    else:
        click.echo(f"{'onnxruntime':<11} not installed")

    try:
        import onnxruntime

        providers = ", ".join(onnxruntime.get_available_providers())
    except ImportError:
        providers = "onnxruntime not installed"
    click.echo(f"onnxruntime providers: {providers}")


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
