"""The `zoo` command line.

This is the only module that imports `zoo`, `recipes`, `export` and
`serving` together. Subcommands live in their own modules and are imported only when
they run, so `zoo --help` does not import Keras or a backend.
"""

import importlib
import logging
import os

import click

# name -> (module, attribute, one-line help shown by `zoo --help`)
COMMANDS = {
    "list": ("zoo.cli.info", "list_command", "List the registered models and recipes."),
    "info": ("zoo.cli.info", "info_command", "Show the backend, devices and library versions."),
    "export": ("zoo.cli.export_cmd", "export_command", "Export a run's parts to ONNX, SavedModel or TFLite."),
    "train": ("zoo.cli.train", "train", "Train a recipe and write a run folder."),
    "evaluate": ("zoo.cli.train", "evaluate", "Evaluate a run folder and rewrite its metrics.json."),
    "verify": ("zoo.cli.serving", "verify_command", "Compare two images with an ONNX embedder."),
    "enroll": ("zoo.cli.serving", "enroll_command", "Enrol a person in a gallery file."),
    "identify": ("zoo.cli.serving", "identify_command", "Identify a face against a gallery file."),
    "gallery": ("zoo.cli.serving", "gallery_command", "List or remove people in a gallery file."),
    "sample": ("zoo.cli.serving", "sample_command", "Save a grid of samples from an ONNX decoder or generator."),
    "interpolate": ("zoo.cli.serving", "interpolate_command", "Save a latent interpolation strip."),
    "mix": ("zoo.cli.serving", "mix_command", "Save a style-mixing grid from an ONNX StyleGAN generator."),
    "reconstruct": ("zoo.cli.serving", "reconstruct_command", "Save images and their encoder-decoder reconstructions."),
    "decode": ("zoo.cli.serving", "decode_command", "Decode latents from a .npy file to a PNG grid."),
    "encode": ("zoo.cli.serving", "encode_command", "Encode images to a .npy file of latents."),
    "translate": ("zoo.cli.serving", "translate_command", "Translate images with an ONNX translator."),
    "pull": ("zoo.cli.hub", "pull_command", "Fetch a pretrained artifact by name into the local cache."),
    "card": ("zoo.cli.card", "card_command", "Write a model card from a run folder."),
    "release": ("zoo.cli.release", "release", "Publish a run's part as a named artifact with its model card."),
    "serve": ("zoo.cli.serve", "serve_command", "Serve ONNX models over HTTP (needs the serve extra)."),
    "bench": ("zoo.cli.bench", "bench_command", "Benchmark training, inference, search and start-up as ratios."),
    "evaluate-megaface": ("zoo.cli.bench", "megaface_command", "Rank-1 of a face run as distractors grow to N."),
}

BACKENDS = ("tensorflow", "jax", "torch")


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only to run it."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module_name, attribute, _ = COMMANDS[name]
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Keras backend for this command. Default: $KERAS_BACKEND, else Keras's default.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages to stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors, and hide Keras's training progress.")
@click.version_option(package_name="beyond-zoo")
def main(backend, verbose, quiet):
    """beyond-zoo: metric learning, autoencoders, VAEs and GANs on Keras 3."""
    if backend is not None:
        # Keras reads KERAS_BACKEND once, at its first import.
        os.environ["KERAS_BACKEND"] = backend
    elif os.environ.get("KERAS_BACKEND", BACKENDS[0]) not in BACKENDS:
        raise click.UsageError(
            f"KERAS_BACKEND is '{os.environ['KERAS_BACKEND']}', but the zoo runs on "
            f"{', '.join(BACKENDS)}. Set KERAS_BACKEND to one of those or pass --backend."
        )
    if not verbose:
        # TensorFlow's C++ start-up lines (oneDNN, CUDA probing) are noise to
        # most users; --verbose keeps them.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # recipes.base.fit_verbosity reads this level, so --quiet also hides fit's progress.
    level = logging.INFO
    if verbose:
        level = logging.DEBUG
    elif quiet:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
