"""Commands that run exported ONNX models: verify, enroll, identify, gallery,
sample, mix, interpolate, reconstruct, decode, encode and translate.

MODEL is the path of an `.onnx` file or the name of an artifact in the
manifest, which is pulled into the cache first (see `zoo pull`).
"""

import functools
import io

import click


def _one_line_errors(command):
    """Turn serving errors into a one-line message and exit code 1, with no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from serving.errors import ServingError

        try:
            return command(*args, **kwargs)
        except ServingError as error:
            raise click.ClickException(str(error)) from error

    return wrapper


def _resolve_model(ctx, param, value):
    """Turn an artifact name into its cached `.onnx` path; leave paths unchanged."""
    from serving.errors import ServingError
    from serving.hub import resolve

    try:
        return str(resolve(value))
    except ServingError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


MODEL = click.argument("model", type=click.Path(dir_okay=False), callback=_resolve_model)
GALLERY = click.option(
    "--gallery",
    "gallery_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite gallery file; created on first enrolment.",
)
OUT = click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output PNG file.")
NCOLS = click.option("--ncols", default=8, show_default=True, help="Images per row of the grid.")


@click.command("verify")
@MODEL
@click.argument("image_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("image_b", type=click.Path(exists=True, dir_okay=False))
@click.option("--far", default=1e-2, show_default=True, help="False accept rate whose threshold is used.")
@_one_line_errors
def verify_command(model, image_a, image_b, far):
    """Compare two images with an embedder: print distance, threshold and same/different.

    The exit code is 0 for both outcomes; read the last word of the output.
    """
    from serving import Embedder

    result = Embedder(model).verify(image_a, image_b, far=far)
    verdict = "same" if result.same else "different"
    click.echo(f"distance {result.distance:.4f}  threshold {result.threshold:.4f} (FAR {far:g})  {verdict}")


@click.command("enroll")
@MODEL
@GALLERY
@click.option("--replace", is_flag=True, help="Replace the embeddings of a person already enrolled.")
@click.argument("name")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_one_line_errors
def enroll_command(model, gallery_path, replace, name, images):
    """Enrol NAME in the gallery with one embedding per image."""
    from serving import Embedder, Gallery

    with Gallery.open(gallery_path, Embedder(model)) as gallery:
        count = gallery.enrol(name, list(images), replace=replace)
        click.echo(f"enrolled {name} with {count} images ({len(gallery)} people in {gallery_path})")


@click.command("identify")
@MODEL
@GALLERY
@click.option("--k", default=5, show_default=True, help="Nearest people to list.")
@click.option("--far", default=1e-2, show_default=True, help="False accept rate whose threshold is used.")
@click.option("--threshold", type=float, default=None, help="Distance threshold; overrides --far.")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@_one_line_errors
def identify_command(model, gallery_path, k, far, threshold, image):
    """Print who IMAGE shows (or `unknown`) and the distance, then the k nearest people."""
    from serving import Embedder, Gallery

    embedder = Embedder(model)
    if threshold is None:
        threshold = embedder.threshold(far)
    with Gallery.open(gallery_path, embedder, create=False) as gallery:
        embedding = embedder.embed([image])
        result = gallery.identify(embedding, threshold=threshold)[0]
        matches = gallery.search(embedding, k=k)[0]
    name = result.name if result.name is not None else "unknown"
    click.echo(f"{name}  distance {result.distance:.4f}  threshold {threshold:.4f}")
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
            for person, count in gallery.counts().items():
                click.echo(f"{person}\t{count}")
        else:
            gallery.remove(name)
            click.echo(f"removed {name} ({len(gallery)} people left)")


PSI = click.option(
    "--psi",
    default=1.0,
    show_default=True,
    help="Truncation of a StyleGAN generator, w = w_avg + psi (w - w_avg): 1 keeps w, 0 gives w_avg.",
)


def _parse_seeds(ctx, param, value):
    """Parse a comma-separated list of non-negative integer seeds, for example "1,2,3"."""
    try:
        seeds = [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 1,2,3; received {value!r}.", ctx=ctx, param=param) from None
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"expected at least one seed, each >= 0; received {value!r}.", ctx=ctx, param=param)
    return seeds


@click.command("sample")
@MODEL
@click.option("--n", default=16, show_default=True, help="Number of images.")
@click.option("--seed", default=0, show_default=True, help="Seed of the N(0, I) latents.")
@PSI
@OUT
@NCOLS
@_one_line_errors
def sample_command(model, n, seed, psi, out, ncols):
    """Decode latents drawn from N(0, I) and save them as a PNG grid.

    --psi other than 1 needs a StyleGAN generator.
    """
    from serving import InvalidInputError, StyleGenerator, load_generator, save_grid

    generator = load_generator(model)
    if isinstance(generator, StyleGenerator):
        images = generator.sample(n, psi=psi, seed=seed)
    elif psi != 1.0:
        raise InvalidInputError(
            f"{model} is not a StyleGAN generator, so it has no truncation trick. Omit --psi. Received: {psi}"
        )
    else:
        images = generator.sample(n, seed=seed)
    save_grid(images, out, ncols=ncols)
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
    from serving import InvalidModelError, StyleGenerator, load_generator, save_grid

    generator = load_generator(model)
    if not isinstance(generator, StyleGenerator):
        raise InvalidModelError(f"{model} is not a StyleGAN generator (a generator with a psi input); style mixing needs one.")
    tiles = generator.mixing_grid(rows, columns, crossover=crossover, psi=psi)
    save_grid(tiles, out, ncols=len(columns) + 1)
    used = generator.default_crossover if crossover is None else crossover
    click.echo(f"wrote a {len(rows)}x{len(columns)} style-mixing grid (crossover {used} of {generator.num_ws}) to {out}")


@click.command("interpolate")
@MODEL
@click.option("--steps", default=8, show_default=True, help="Images along the path, ends included.")
@click.option("--method", type=click.Choice(["linear", "slerp"]), default="linear", show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the two end latents.")
@OUT
@_one_line_errors
def interpolate_command(model, steps, method, seed, out):
    """Decode a path between two random latents and save it as one PNG strip."""
    from serving import load_generator, save_grid

    save_grid(load_generator(model).interpolate(steps=steps, method=method, seed=seed), out, ncols=steps)
    click.echo(f"wrote {steps} images to {out}")


@click.command("reconstruct")
@click.argument("encoder", type=click.Path(dir_okay=False), callback=_resolve_model)
@click.argument("decoder", type=click.Path(dir_okay=False), callback=_resolve_model)
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@OUT
@_one_line_errors
def reconstruct_command(encoder, decoder, images, out):
    """Encode and decode IMAGES; save inputs (top row) over reconstructions (bottom row)."""
    from serving import Encoder, load_generator, reconstruct, save_grid
    from serving.images import prepare_images

    encoder_model = Encoder(encoder)
    height, width, channels = encoder_model.input_shape
    inputs = prepare_images(list(images), height, width, channels)
    outputs = reconstruct(encoder_model, load_generator(decoder), inputs)
    save_grid(list(inputs) + list(outputs), out, ncols=len(inputs))
    click.echo(f"wrote {len(inputs)} reconstructions to {out}")


@click.command("decode")
@MODEL
@click.option("--z-file", required=True, type=click.Path(exists=True, dir_okay=False), help="A .npy file of latents (N, latent_dim).")
@OUT
@NCOLS
@_one_line_errors
def decode_command(model, z_file, out, ncols):
    """Decode the latents in a .npy file and save them as a PNG grid."""
    import numpy as np

    from serving import InvalidInputError, load_generator, save_grid

    try:
        z = np.load(z_file, allow_pickle=False)
    except ValueError as error:
        raise InvalidInputError(f"{z_file} is not a numeric .npy array: {error}") from error
    images = load_generator(model).decode(z)
    save_grid(images, out, ncols=ncols)
    click.echo(f"wrote {len(images)} images to {out}")


@click.command("encode")
@MODEL
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .npy file of latents (N, latent_dim).")
@_one_line_errors
def encode_command(model, images, out):
    """Encode IMAGES and save the latents (z, or z_mean for a VAE) as a .npy file."""
    import numpy as np

    from serving import Encoder
    from serving.runtime import atomic_write_bytes

    z = Encoder(model).encode(list(images))
    buffer = io.BytesIO()
    np.save(buffer, z)
    atomic_write_bytes(out, buffer.getvalue())
    click.echo(f"wrote latents of shape {z.shape} to {out}")


@click.command("translate")
@MODEL
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@OUT
@_one_line_errors
def translate_command(model, images, out):
    """Translate IMAGES; save inputs (top row) over translations (bottom row)."""
    from serving import Translator, save_grid
    from serving.images import prepare_images

    translator = Translator(model)
    height, width, channels = translator.input_shape
    inputs = prepare_images(list(images), height, width, channels)
    outputs = translator.translate(inputs)
    save_grid(list(inputs) + list(outputs), out, ncols=len(inputs))
    click.echo(f"wrote {len(inputs)} translations to {out}")
