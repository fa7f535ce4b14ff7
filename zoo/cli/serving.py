"""Commands that run exported ONNX models: verify, enroll, identify, gallery,
sample, mix, interpolate, reconstruct, decode, encode and translate.

MODEL is the path of an `.onnx` file or the name of an artifact in the
manifest, which is pulled into the cache first (see `zoo pull`).
"""

import functools
import os

import click

from zoo.cli.arguments import (
    GRID_SUFFIXES,
    MODEL_HINT,
    NPY_SUFFIXES,
    check_gallery_folder,
    check_grid_size,
    check_model_path,
    cli_message,
    grid_count,
    output_file,
    write_grid,
    write_npy,
)


def _one_line_errors(command):
    """Turn serving errors into a one-line message and exit code 1, with no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from serving.errors import ServingError

        try:
            return command(*args, **kwargs)
        except ServingError as error:
            raise click.ClickException(cli_message(str(error))) from error

    return wrapper


def _resolve_model(ctx, param, value):
    """Return the `.onnx` path of MODEL: check that a path is a file, or pull an artifact name into the cache."""
    from serving.errors import ServingError
    from serving.hub import resolve

    try:
        check_model_path(value)
        return str(resolve(value))
    except click.BadParameter as error:
        raise click.BadParameter(error.message, ctx=ctx, param=param) from error
    except ServingError as error:
        message = str(error)
        if "zoo pull --list" not in message:
            message = f"{message} {MODEL_HINT}"
        raise click.BadParameter(message, ctx=ctx, param=param) from error


MODEL = click.argument("model", type=click.Path(dir_okay=False), callback=_resolve_model)
GALLERY = click.option(
    "--gallery",
    "gallery_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite gallery file; created on first enrolment.",
)
OUT = click.option(
    "--out",
    required=True,
    callback=output_file(GRID_SUFFIXES),
    help="Output image file, written as PNG or JPEG by its suffix (.png, .jpg, .jpeg), in an existing folder.",
)
NCOLS = click.option("--ncols", default=8, show_default=True, help="Images per row of the grid.")


@click.command("verify")
@MODEL
@click.argument("image_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("image_b", type=click.Path(exists=True, dir_okay=False))
@click.option("--far", default=1e-2, show_default=True, help="False accept rate whose stored threshold is used.")
@click.option(
    "--threshold", type=click.FloatRange(min=0.0), default=None, help="Distance threshold, >= 0; overrides --far."
)
@_one_line_errors
def verify_command(model, image_a, image_b, far, threshold):
    """Compare two images with an embedder: print distance, threshold and same/different.

    Images are PGM, PNG or JPEG files of any size, or .npy arrays of shape
    (H, W, C) saved with numpy.save. The exit code is 0 for both outcomes,
    so read the last word of the output.
    """
    from serving import Embedder

    result = Embedder(model).verify(image_a, image_b, far=far, threshold=threshold)
    verdict = "same" if result.same else "different"
    source = f"FAR {far:g}" if threshold is None else "given"
    click.echo(f"distance {result.distance:.4f}  threshold {result.threshold:.4f} ({source})  {verdict}")


@click.command("enroll")
@MODEL
@GALLERY
@click.option("--replace", is_flag=True, help="Replace the embeddings of a person already enrolled.")
@click.argument("name")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_one_line_errors
def enroll_command(model, gallery_path, replace, name, images):
    """Enrol NAME in the gallery with one embedding per image.

    Images are PGM, PNG or JPEG files, or .npy arrays as for `zoo verify`.
    An image file given more than once is enrolled once, with a warning.
    """
    from serving import Embedder, Gallery
    from serving.gallery import check_person_name

    # Check the name before Gallery.open creates the file.
    check_person_name(name)
    check_gallery_folder(gallery_path)
    unique_images = _drop_repeated_files(images)

    with Gallery.open(gallery_path, Embedder(model)) as gallery:
        if name in gallery and not replace:
            raise click.ClickException(
                f"{name!r} is already enrolled in {gallery_path}. Pass --replace to replace their "
                f"embeddings, or remove them first with `zoo gallery MODEL --gallery {gallery_path} remove NAME`."
            )
        count = gallery.enrol(name, unique_images, replace=replace)
        click.echo(
            f"enrolled {name} with {_plural(count, 'image')} "
            f"({_plural(len(gallery), 'person', 'people')} in {gallery_path})"
        )


def _plural(count, singular, plural=None):
    """Return "1 image" or "3 images"."""
    word = singular if count == 1 else (plural or singular + "s")
    return f"{count} {word}"


def _drop_repeated_files(images):
    """Return the images with repeats of the same file removed, warning about each repeat."""
    unique = []
    seen = {}
    for image in images:
        key = os.path.realpath(image)
        if key in seen:
            click.echo(f"Warning: {image} is the same file as {seen[key]}; enrolling it once.", err=True)
            continue
        seen[key] = image
        unique.append(image)
    return unique


@click.command("identify")
@MODEL
@GALLERY
@click.option("--k", default=5, show_default=True, help="Nearest people to list.")
@click.option(
    "--fpir",
    type=float,
    default=None,
    help="False positive identification rate whose stored open-set threshold is used. "
    "Default: 1e-2, or --far 1e-2 for models exported without open-set thresholds.",
)
@click.option(
    "--far",
    type=float,
    default=None,
    help="False accept rate whose stored 1:1 verification threshold is used instead of the open-set one.",
)
@click.option(
    "--threshold", type=click.FloatRange(min=0.0), default=None,
    help="Distance threshold, >= 0; overrides --fpir and --far.",
)
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@_one_line_errors
def identify_command(model, gallery_path, k, fpir, far, threshold, image):
    """Print who IMAGE shows (or `unknown`) and the distance, then the k nearest people.

    The default threshold is the model's open-set threshold for a false
    positive identification rate (FPIR) of 1e-2: the fraction of searches
    by people who are not enrolled that still name someone.
    """
    from serving import Embedder, Gallery, InvalidInputError

    embedder = Embedder(model)
    try:
        # The same choice as HTTP /identify: a given threshold wins over both rates.
        chosen = embedder.select_identify_threshold(threshold=threshold, fpir=fpir, far=far)
    except InvalidInputError as error:
        raise click.UsageError(
            f"Pass at most one of --fpir and --far. Received: --fpir {fpir:g} and --far {far:g}. "
            "Drop one, or pass --threshold, which overrides both."
        ) from error
    threshold = chosen.value
    rate = ""
    if chosen.fpir is not None:
        rate = f" (FPIR {chosen.fpir:g})"
    elif chosen.far is not None:
        rate = f" (FAR {chosen.far:g})"

    with Gallery.open(gallery_path, embedder, create=False) as gallery:
        embedding = embedder.embed([image])
        result = gallery.identify(embedding, threshold=threshold)[0]
        matches = gallery.search(embedding, k=k)[0]
    name = result.name if result.name is not None else "unknown"
    click.echo(f"{name}  distance {result.distance:.4f}  threshold {threshold:.4f}{rate}")
    for rank, (person, distance) in enumerate(matches, start=1):
        click.echo(f"  {rank}. {person}  {distance:.4f}")


@click.command("gallery")
@MODEL
@GALLERY
@click.argument("action", type=click.Choice(["list", "remove"]))
@click.argument("name", required=False)
@_one_line_errors
def gallery_command(model, gallery_path, action, name):
    """List the people in a gallery, or remove NAME from it."""
    from serving import Embedder, Gallery

    if action == "remove" and not name:
        raise click.UsageError("remove needs the NAME of the person to remove.")
    with Gallery.open(gallery_path, Embedder(model), create=False) as gallery:
        if action == "list":
            counts = gallery.counts()
            if not counts:
                click.echo("(empty gallery)")
            for person, count in counts.items():
                click.echo(f"{person}\t{count}")
        else:
            gallery.remove(name)
            click.echo(f"removed {name} ({_plural(len(gallery), 'person', 'people')} left)")


# serving.stylegan.check_psi rejects a psi outside [PSI_MIN, PSI_MAX] = [-1, 2]. The
# range is not repeated as a click type, because importing serving at module level
# would load onnxruntime even for `zoo sample --help`.
PSI = click.option(
    "--psi",
    default=1.0,
    show_default=True,
    help="Truncation of a StyleGAN generator, from -1 to 2, w = w_avg + psi (w - w_avg): 1 keeps w, "
    "0 gives w_avg.",
)


# The HTTP API's seed limit (serving.http.bodies.MAX_SEED), so a seed that works here works there.
MAX_SEED = 2**63 - 1


def _path_steps(ctx, param, value):
    """Click callback: check the images of an interpolation path, its two ends included."""
    if value < 2:
        raise click.BadParameter(f"expected at least 2 images, the two ends of the path; received {value}.", ctx=ctx, param=param)
    return grid_count(ctx, param, value)


def _parse_seeds(ctx, param, value):
    """Parse a comma-separated list of non-negative integer seeds, for example "1,2,3"."""
    try:
        seeds = [int(item) for item in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 1,2,3; received {value!r}.", ctx=ctx, param=param) from None
    if not seeds or min(seeds) < 0 or max(seeds) > MAX_SEED:
        raise click.BadParameter(
            f"expected at least one seed, each from 0 to {MAX_SEED}; received {value!r}.", ctx=ctx, param=param
        )
    return seeds


@click.command("sample")
@MODEL
@click.option("--n", default=16, show_default=True, callback=grid_count, help="Number of images, 1 to 256.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed of the N(0, I) latents.")
@PSI
@OUT
@NCOLS
@_one_line_errors
def sample_command(model, n, seed, psi, out, ncols):
    """Decode latents drawn from N(0, I) and save them as a PNG grid.

    --psi other than 1 needs a StyleGAN generator.
    """
    from serving import InvalidInputError, StyleGenerator, load_generator

    generator = load_generator(model)
    if isinstance(generator, StyleGenerator):
        images = generator.sample(n, psi=psi, seed=seed)
    elif psi != 1.0:
        raise InvalidInputError(
            f"{model} is not a StyleGAN generator, so it has no truncation trick. Omit --psi. Received: {psi}"
        )
    else:
        images = generator.sample(n, seed=seed)
    write_grid(images, out, ncols=ncols)
    click.echo(f"wrote {n} samples to {out}")


@click.command("mix")
@MODEL
@click.option("--rows", default="1,2,3,4", show_default=True, callback=_parse_seeds, help="Seeds of the row sources, which give the coarse styles.")
@click.option("--columns", default="5,6,7,8,9", show_default=True, callback=_parse_seeds, help="Seeds of the column sources, which give the fine styles.")
@click.option("--crossover", type=int, default=None, help="First synthesis layer styled by the column source, from 0 to num_ws. Default: num_ws // 2.")
@PSI
@OUT
@_one_line_errors
def mix_command(model, rows, columns, crossover, psi, out):
    """Save a style-mixing grid of a StyleGAN generator as a PNG.

    The top row shows the column sources and the left column the row
    sources. Each other image takes the layers before --crossover from its
    row source and the rest from its column source. Seed s gives the image
    of `zoo sample --n 1 --seed s`. The mapping.onnx and synthesis.onnx
    parts must lie beside MODEL.
    """
    from serving import InvalidModelError, StyleGenerator, load_generator

    check_grid_size((len(rows) + 1) * (len(columns) + 1), "images (sources included)")
    generator = load_generator(model)
    if not isinstance(generator, StyleGenerator):
        raise InvalidModelError(f"{model} is not a StyleGAN generator (a generator with a psi input); style mixing needs one.")
    tiles = generator.mixing_grid(rows, columns, crossover=crossover, psi=psi)
    write_grid(tiles, out, ncols=len(columns) + 1)
    used = generator.default_crossover if crossover is None else crossover
    click.echo(f"wrote a {len(rows)}x{len(columns)} style-mixing grid (crossover {used} of {generator.num_ws}) to {out}")


@click.command("interpolate")
@MODEL
@click.option("--steps", default=8, show_default=True, callback=_path_steps, help="Images along the path, ends included, 2 to 256.")
@click.option("--method", type=click.Choice(["linear", "slerp"]), default="linear", show_default=True)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed of the two end latents.")
@OUT
@_one_line_errors
def interpolate_command(model, steps, method, seed, out):
    """Decode a path between two random latents and save it as one PNG strip."""
    from serving import load_generator

    write_grid(load_generator(model).interpolate(steps=steps, method=method, seed=seed), out, ncols=steps)
    click.echo(f"wrote {steps} images to {out}")


@click.command("reconstruct")
@click.argument("encoder", type=click.Path(dir_okay=False), callback=_resolve_model)
@click.argument("decoder", type=click.Path(dir_okay=False), callback=_resolve_model)
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@OUT
@_one_line_errors
def reconstruct_command(encoder, decoder, images, out):
    """Encode and decode IMAGES; save inputs (top row) over reconstructions (bottom row)."""
    from serving import Encoder, load_generator, reconstruct
    from serving.images import prepare_images

    check_grid_size(2 * len(images), "images (inputs and reconstructions)")
    encoder_model = Encoder(encoder)
    height, width, channels = encoder_model.input_shape
    inputs = prepare_images(list(images), height, width, channels)
    outputs = reconstruct(encoder_model, load_generator(decoder), inputs)
    write_grid(list(inputs) + list(outputs), out, ncols=len(inputs))
    click.echo(f"wrote {_plural(len(inputs), 'reconstruction')} to {out}")


@click.command("decode")
@MODEL
@click.option("--z-file", required=True, type=click.Path(exists=True, dir_okay=False), help="A .npy file of latents (N, latent_dim).")
@OUT
@NCOLS
@_one_line_errors
def decode_command(model, z_file, out, ncols):
    """Decode the latents in a .npy file and save them as a PNG or JPEG grid."""
    from serving import load_generator

    generator = load_generator(model)
    z = _load_latents(z_file, generator.latent_dim)
    check_grid_size(len(z), "latents")
    images = generator.decode(z)
    write_grid(images, out, ncols=ncols)
    click.echo(f"wrote {_plural(len(images), 'image')} to {out}")


@click.command("encode")
@MODEL
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    required=True,
    callback=output_file(NPY_SUFFIXES),
    help="Output .npy file of latents (N, latent_dim), in an existing folder.",
)
@_one_line_errors
def encode_command(model, images, out):
    """Encode IMAGES and save the latents (z, or z_mean for a VAE) as a .npy file."""
    from serving import Encoder

    z = Encoder(model).encode(list(images))
    write_npy(z, out)
    click.echo(f"wrote latents of shape {z.shape} to {out}")


@click.command("translate")
@MODEL
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@OUT
@_one_line_errors
def translate_command(model, images, out):
    """Translate IMAGES; save inputs (top row) over translations (bottom row)."""
    from serving import Translator
    from serving.images import prepare_images

    check_grid_size(2 * len(images), "images (inputs and translations)")
    translator = Translator(model)
    height, width, channels = translator.input_shape
    inputs = prepare_images(list(images), height, width, channels)
    outputs = translator.translate(inputs)
    write_grid(list(inputs) + list(outputs), out, ncols=len(inputs))
    click.echo(f"wrote {_plural(len(inputs), 'translation')} to {out}")


def _load_latents(z_file, latent_dim):
    """Load a (N, latent_dim) array from a .npy file without unpickling anything."""
    import numpy as np

    from serving import InvalidInputError

    expected = f"expected an array of shape (N, {latent_dim}) written by numpy.save"
    try:
        z = np.load(z_file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        # NumPy's own message for a non-.npy file suggests allow_pickle=True,
        # which would run code from the file, so it is not shown.
        raise InvalidInputError(f"{z_file} is not a .npy array file: {expected}.") from error
    if not isinstance(z, np.ndarray):
        z.close()
        raise InvalidInputError(f"{z_file} is a .npz archive, not a .npy array file: {expected}.")
    return z
