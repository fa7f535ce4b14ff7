"""Checks shared by the `zoo` commands: output files, run folders, MODEL
arguments and the wording of errors from the Python API.

Every command that writes a file checks its path here before it loads a
model, so a bad `--out` fails at once with one line instead of a
traceback after the work is done.
"""

import io
import os
import pathlib
import re
import tempfile

import click

GRID_SUFFIXES = (".png", ".jpg", ".jpeg")
NPY_SUFFIXES = (".npy",)

# The HTTP API caps /sample at 256 images too. A grid of 100,000 padded 28x28
# tiles has 90 million pixels, beyond Pillow's decompression-bomb limit
# (Image.MAX_IMAGE_PIXELS, 89,478,485 in Pillow 10 and later).
MAX_GRID_IMAGES = 256

# "Pass overwrite=True (--overwrite)" from the Python API reads "Pass --overwrite" here.
_KEYWORD_WITH_FLAG = re.compile(r"\b[a-z_]+=True \((--[a-z-]+)\)")
_KEYWORD_FLAGS = {"overwrite=True": "--overwrite", "replace=True": "--replace"}
# Advice that only a Python caller can follow, such as ", or pass mapping_path= to StyleGenerator".
_PYTHON_ONLY_ADVICE = re.compile(r", or pass [a-z_]+= to [A-Za-z]+")


def cli_message(message):
    """Return an API error message with Python keywords replaced by their CLI flags."""
    message = _KEYWORD_WITH_FLAG.sub(r"\1", message)
    message = _PYTHON_ONLY_ADVICE.sub("", message)
    for keyword, flag in _KEYWORD_FLAGS.items():
        message = message.replace(keyword, flag)
    return message


def _cannot_write(path, reason, option):
    return click.ClickException(f"cannot write {path} ({reason}); choose a writable {option}")


def check_output_file(value, suffixes, option="--out", creates_folder=False):
    """Check that a file named `value` can be written, and return it as a Path.

    The name must end in one of `suffixes` and lie in an existing, writable
    folder. The check writes and deletes a probe file in that folder, because
    permission bits do not show read-only mounts, /proc or root's rights.
    With `creates_folder`, for writers that make their own folders (a model
    card and its pictures), a missing folder passes when it can be created.

    Raises:
        click.ClickException: exit code 1, with the path, the reason and what to do.
    """
    text = os.fspath(value)
    path = pathlib.Path(text)
    if not text.strip() or text.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise _cannot_write(repr(text), "expected a file name", option)

    suffix = path.suffix.lower()
    if suffix not in suffixes:
        received = suffix or "no suffix"
        raise _cannot_write(text, f"expected a {'/'.join(suffixes)} name, received {received}", option)

    folder = path.parent
    if creates_folder and not folder.exists():
        check_output_folder(folder, option=option, kind="folder")
        return path
    if not folder.is_dir():
        raise click.ClickException(
            f"cannot write {text} (the folder {folder} does not exist); create it first or choose another {option}"
        )
    if path.is_dir():
        raise _cannot_write(text, "it is a folder", option)

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as error:
        raise _cannot_write(text, error.strerror or str(error), option) from error
    return path


def output_file(suffixes, creates_folder=False):
    """Return a click callback that runs `check_output_file` on an option's value."""

    def callback(ctx, param, value):
        if value is None:
            return None
        return check_output_file(value, suffixes, option=param.opts[0], creates_folder=creates_folder)

    return callback


def check_output_folder(value, option="--out", kind="run folder"):
    """Check that the folder `value` exists or can be created, without creating it.

    Args:
        value: the folder path from the command line.
        option: the option named in the error message.
        kind: what the folder is, for the error message ("run folder", "export folder").

    Raises:
        click.ClickException: `value` is a file, or its nearest existing
            ancestor is not a writable folder.
    """
    path = pathlib.Path(value)
    if path.exists() and not path.is_dir():
        raise click.ClickException(f"cannot create the {kind} {value} (a file has that name); choose another {option}")

    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    try:
        if not ancestor.is_dir():
            raise NotADirectoryError(f"{ancestor} is not a folder")
        os.rmdir(tempfile.mkdtemp(dir=ancestor, prefix=".zoo-probe-"))
    except OSError as error:
        reason = error.strerror or str(error)
        raise click.ClickException(
            f"cannot create the {kind} {value} ({reason} in {ancestor}); choose a writable {option}"
        ) from error
    return path


def check_gallery_folder(gallery_path):
    """Check that the folder of a gallery file exists, because a gallery file is created but never its folder.

    Raises:
        click.ClickException: the folder is missing.
    """
    folder = os.path.dirname(os.fspath(gallery_path)) or "."
    if not os.path.isdir(folder):
        raise click.ClickException(
            f"cannot create the gallery {gallery_path} (the folder {folder} does not exist); "
            "create it first or choose another --gallery"
        )


def write_file(data, path, option="--out"):
    """Write bytes atomically, turning an OSError into a one-line click error."""
    from serving.runtime import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise _cannot_write(path, error.strerror or str(error), option) from error


def write_npy(array, path, option="--out"):
    """Write an array as a .npy file, atomically."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_file(buffer.getvalue(), path, option)


def check_grid_size(count, tiles="images"):
    """Raise a click error when a grid would contain more than MAX_GRID_IMAGES tiles."""
    if count > MAX_GRID_IMAGES:
        raise click.ClickException(
            f"too many {tiles} for one grid: expected at most {MAX_GRID_IMAGES}, received {count}. "
            "Write several smaller grids instead."
        )


def write_grid(images, path, ncols, option="--out"):
    """Write images as one grid in the format that the suffix names (PNG or JPEG).

    Args:
        images: float images (N, H, W, C) in [0, 1], C in (1, 3).
        path: a name checked by `check_output_file` with GRID_SUFFIXES.
        ncols: tiles per row.
    """
    from serving import make_grid
    from serving.images import import_pillow, to_uint8

    check_grid_size(len(images))
    Image = import_pillow()
    grid = to_uint8(make_grid(images, ncols=ncols))
    pixels = grid[:, :, 0] if grid.shape[-1] == 1 else grid

    buffer = io.BytesIO()
    if pathlib.Path(path).suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    else:
        Image.fromarray(pixels).save(buffer, format="PNG")
    write_file(buffer.getvalue(), path, option)


def grid_count(ctx, param, value):
    """Click callback: check a count of grid images against MAX_GRID_IMAGES."""
    if not 1 <= value <= MAX_GRID_IMAGES:
        raise click.BadParameter(
            f"expected 1 to {MAX_GRID_IMAGES} images per grid; received {value}. "
            "Larger grids exceed Pillow's decompression-bomb limit, so write several with different --seed values.",
            ctx=ctx,
            param=param,
        )
    return value


def _looks_like_path(text):
    return os.sep in text or (os.altsep is not None and os.altsep in text) or text.endswith(".onnx") or text.startswith(".")


MODEL_HINT = "Pass the path of an exported .onnx file, or a released name from `zoo pull --list`."


def check_model_path(value):
    """Check that a MODEL written as a path names a file, and return it unchanged.

    Artifact names pass unchecked, because `serving.hub.resolve` looks them up.

    Raises:
        click.BadParameter: the path does not exist or is a folder.
    """
    if _looks_like_path(value) and not pathlib.Path(value).is_file():
        state = "is a folder" if pathlib.Path(value).is_dir() else "does not exist"
        raise click.BadParameter(f"{value} {state}. {MODEL_HINT}")
    return value
