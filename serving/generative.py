"""Wrappers for exported encoders, decoders, generators and translators.

Conventions, set by the exporter:
- encoder: `images` -> `z`, or a VAE's `z_mean` and `z_log_var`;
- decoder or generator: `z` -> `images`, float32 NHWC in [0, 1];
- translator (pix2pix): `images` -> `translated`, both NHWC in [0, 1].
The latent size is the metadata `latent_dim` and the image size is
`input_height`, `input_width`, `input_channels`.
"""

import io
import logging

import numpy as np

from serving.errors import InvalidInputError, InvalidModelError, ServingError
from serving.images import import_pillow, convert_channels, prepare_images, to_uint8
from serving.runtime import CPU_PROVIDER, OnnxModel, atomic_write_bytes, run_in_batches

logger = logging.getLogger(__name__)

# Decoder outputs may overshoot [0, 1] by float rounding; more than this is a broken model.
_RANGE_TOLERANCE = 1e-4

METHODS = ("linear", "slerp")


def check_latents(z, latent_dim):
    """Validate latents and return them as float32 (N, latent_dim).

    Args:
        z: an array of shape (N, latent_dim) or (latent_dim,).
        latent_dim: the model's latent size.

    Raises:
        InvalidInputError: wrong shape or dtype, an empty batch, NaN or inf, or values beyond the float32 range.
    """
    array = np.asarray(z)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != latent_dim or array.shape[0] == 0:
        raise InvalidInputError(
            f"Expected latents of shape (N, {latent_dim}) or ({latent_dim},) with N >= 1 "
            f"(latent_dim from the model metadata); received shape {np.shape(z)}."
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError(f"Latents must be numbers; received dtype {array.dtype}.")
    finite = np.isfinite(array)
    if not finite.all():
        raise InvalidInputError(
            f"Latents contain {int(array.size - finite.sum())} non-finite values (NaN or inf); "
            f"expected finite numbers of shape (N, {latent_dim}) or ({latent_dim},)."
        )
    largest = float(np.abs(array).max())
    if largest > float(np.finfo(np.float32).max):
        raise InvalidInputError(
            f"Latents must fit in float32 (absolute values up to 3.4e38); received a value of magnitude {largest:.3g}."
        )
    return array.astype(np.float32)


def interpolate_latents(z0, z1, steps, method="linear"):
    """Return `steps` latents from z0 to z1, both ends included.

    Args:
        z0: start latent, shape (D,).
        z1: end latent, shape (D,).
        steps: number of latents, at least 2.
        method: "linear" (straight line) or "slerp" (spherical linear
            interpolation, which keeps the norm near that of Gaussian
            samples; it falls back to linear for (anti)parallel latents).

    Returns:
        float32 array of shape (steps, D).
    """
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}. Received: {method!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise InvalidInputError(f"steps must be an integer of at least 2. Received: {steps!r}")
    z0 = np.asarray(z0, dtype=np.float64).reshape(-1)
    z1 = np.asarray(z1, dtype=np.float64).reshape(-1)
    t = np.linspace(0.0, 1.0, steps)[:, None]

    if method == "slerp":
        norms = np.linalg.norm(z0) * np.linalg.norm(z1)
        if norms > 0:
            omega = np.arccos(np.clip(np.dot(z0, z1) / norms, -1.0, 1.0))
            if np.sin(omega) > 1e-6:
                weight0 = np.sin((1.0 - t) * omega) / np.sin(omega)
                weight1 = np.sin(t * omega) / np.sin(omega)
                return (weight0 * z0 + weight1 * z1).astype(np.float32)
    return ((1.0 - t) * z0 + t * z1).astype(np.float32)


def check_image_output(images, path, name):
    """Check a model's image output: (N, H, W, 1 or 3), finite, in [0, 1]; return it clipped, as float32.

    Raises:
        InvalidModelError: another shape, NaN or inf, or values outside [0, 1] beyond float rounding.
    """
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InvalidModelError(
            f"{path} returned '{name}' of shape {images.shape}; expected (N, H, W, 1 or 3)."
        )
    if not np.isfinite(images).all():
        raise InvalidModelError(f"{path} returned non-finite values in '{name}'.")
    low, high = float(images.min()), float(images.max())
    if low < -_RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise InvalidModelError(
            f"{path} returned '{name}' values in [{low:.4g}, {high:.4g}]; expected [0, 1]. "
            "Export the model with its output rescaled to [0, 1]."
        )
    return np.clip(images, 0.0, 1.0).astype(np.float32, copy=False)


class Encoder:
    """Map images to latents with an exported encoder.

    Args:
        path: the `.onnx` file, with `zoo_task=encoder`, an `images` input and
            a `z` output or `z_mean` and `z_log_var` outputs.
        providers: onnxruntime execution providers. Default: CUDA when usable.
        batch_size: images per session run.
    """

    def __init__(self, path, providers=None, batch_size=64):
        self.model = OnnxModel(path, providers, tasks=("encoder",))
        self.model.require_task("encoder")
        self.model.require_io(inputs=["images"])
        self.is_variational = "z_mean" in self.model.outputs and "z_log_var" in self.model.outputs
        if not self.is_variational:
            self.model.require_io(outputs=["z"])
        self.input_shape = self.model.image_shape("images")
        self.latent_dim = self.model.metadata_int("latent_dim")
        self.batch_size = batch_size

    @property
    def path(self):
        """The `.onnx` file."""
        return self.model.path

    def encode_distribution(self, images):
        """Return a VAE encoder's `(z_mean, z_log_var)`, each (N, latent_dim) float32.

        Raises:
            InvalidModelError: the encoder is not variational.
        """
        if not self.is_variational:
            raise InvalidModelError(
                f"{self.path} outputs 'z' only; z_mean and z_log_var need a VAE encoder."
            )
        outputs = self._run(images, ["z_mean", "z_log_var"])
        return outputs["z_mean"], outputs["z_log_var"]

    def encode(self, images):
        """Encode images to latents.

        A VAE encoder returns `z_mean`, the deterministic code; sample with
        `encode_distribution` for a random `z`.

        Args:
            images: paths, bytes, an (N, H, W, C) or (H, W, C) array, or a
                list of them; converted to the metadata image shape.

        Returns:
            float32 array of shape (N, latent_dim).
        """
        name = "z_mean" if self.is_variational else "z"
        return self._run(images, [name])[name]

    def _run(self, images, output_names):
        height, width, channels = self.input_shape
        batch = prepare_images(images, height, width, channels)
        outputs = run_in_batches(self.model, "images", batch, output_names, self.batch_size)
        for name, value in outputs.items():
            if value.shape != (len(batch), self.latent_dim):
                raise InvalidModelError(
                    f"{self.path} returned '{name}' of shape {value.shape}; expected "
                    f"({len(batch)}, {self.latent_dim}) from latent_dim in its metadata."
                )
        return {name: value.astype(np.float32, copy=False) for name, value in outputs.items()}


class Decoder:
    """Map latents to images with an exported decoder or GAN generator.

    Args:
        path: the `.onnx` file, with `zoo_task` decoder or generator, a `z`
            input and an `images` output in [0, 1], or an artifact folder
            whose decoder or generator part is loaded.
        providers: onnxruntime execution providers. Default: CUDA when usable.
        batch_size: latents per session run.
    """

    def __init__(self, path, providers=None, batch_size=64):
        self.model = OnnxModel(path, providers, tasks=("decoder", "generator"))
        self.model.require_task("decoder", "generator")
        self.model.require_io(inputs=["z"], outputs=["images"])
        self.latent_dim = self.model.metadata_int("latent_dim")
        declared = self.model.inputs["z"].shape
        if len(declared) == 2 and declared[1] is not None and declared[1] != self.latent_dim:
            raise InvalidModelError(
                f"{path}: metadata latent_dim={self.latent_dim} but input 'z' is declared "
                f"{declared}. Export the model again."
            )
        self.batch_size = batch_size
        self._prior_checked = False

    @property
    def path(self):
        """The `.onnx` file."""
        return self.model.path

    def decode(self, z):
        """Decode latents to images.

        Args:
            z: float array of shape (N, latent_dim) or (latent_dim,).

        Returns:
            float32 array of shape (N, H, W, C) with values in [0, 1].

        Raises:
            InvalidInputError: a latent of the wrong size or with NaN or inf.
        """
        z = check_latents(z, self.latent_dim)
        images = run_in_batches(self.model, "z", z, ["images"], self.batch_size)["images"]
        return check_image_output(images, self.path, "images")

    def sample_latents(self, n, seed=0):
        """Draw `n` latents from N(0, I) with numpy's default generator and `seed`."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidInputError(f"n must be a positive integer. Received: {n!r}")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, self.latent_dim)).astype(np.float32)

    def sample(self, n, seed=0):
        """Decode `n` latents drawn from N(0, I); the same seed gives the same images.

        N(0, I) is the prior of a GAN generator and of a VAE decoder. A plain
        autoencoder has no prior, so the first call on its decoder logs a
        warning (see `plain_autoencoder_reason`).

        Returns:
            float32 array of shape (n, H, W, C) in [0, 1].
        """
        if not self._prior_checked:
            self._prior_checked = True
            reason = plain_autoencoder_reason(self.model)
            if reason is not None:
                logger.warning(
                    "%s: sampling z from N(0, I), which is not this decoder's latent distribution "
                    "because %s. Expect blurry or implausible images; encode real images and "
                    "interpolate or perturb their latents instead.",
                    self.path,
                    reason,
                )
        return self.decode(self.sample_latents(n, seed))

    def interpolate(self, z0=None, z1=None, steps=8, method="linear", seed=0):
        """Decode a path of `steps` latents from z0 to z1.

        Args:
            z0: start latent (latent_dim,). Default: drawn from N(0, I) with `seed`.
            z1: end latent (latent_dim,). Default: drawn with `seed` too.
            steps: number of images, at least 2.
            method: "linear" or "slerp", see `interpolate_latents`.
            seed: seed for the latents that are not given.

        Returns:
            float32 array of shape (steps, H, W, C) in [0, 1].
        """
        return self.decode(self.path_latents(z0, z1, steps, method, seed))

    def path_latents(self, z0=None, z1=None, steps=8, method="linear", seed=0):
        """Return the `steps` latents (steps, latent_dim) that `interpolate` decodes."""
        drawn = self.sample_latents(2, seed)
        z0 = drawn[0] if z0 is None else check_latents(z0, self.latent_dim)[0]
        z1 = drawn[1] if z1 is None else check_latents(z1, self.latent_dim)[0]
        return interpolate_latents(z0, z1, steps, method)


def plain_autoencoder_reason(model):
    """Return why a decoder has no N(0, I) prior, or None when it has one.

    A GAN generator (`zoo_task=generator`) is trained on N(0, I) latents.
    For a decoder, the encoder exported beside it decides. A VAE encoder has
    `z_mean` and `z_log_var` outputs, and a plain autoencoder's encoder has
    `z` only. Without that encoder, a `model_name` metadata value containing
    "vae" marks a VAE decoder.

    Args:
        model: the decoder's `OnnxModel`.
    """
    if model.task != "decoder":
        return None
    model_name = model.metadata.get("model_name", "")
    for sibling in sorted(model.path.parent.glob("*.onnx")):
        if sibling == model.path:
            continue
        try:
            encoder = OnnxModel(sibling, [CPU_PROVIDER])
        except ServingError:
            continue
        if encoder.task != "encoder" or encoder.metadata.get("model_name", "") != model_name:
            continue
        if "z_mean" in encoder.outputs and "z_log_var" in encoder.outputs:
            return None
        return f"its encoder {sibling.name} outputs a deterministic z, not z_mean and z_log_var, so it is a plain autoencoder"
    if "vae" in model_name.lower():
        return None
    return (
        f"no variational encoder is exported beside it and its model_name {model_name!r} does not name a VAE, "
        "so it is taken for a plain autoencoder"
    )


def reconstruct(encoder, decoder, images):
    """Encode then decode images (a VAE uses z_mean).

    Args:
        encoder: an `Encoder`.
        decoder: a `Decoder` with the same latent size.
        images: anything `Encoder.encode` reads.

    Returns:
        float32 array of shape (N, H, W, C) in [0, 1].

    Raises:
        InvalidModelError: the latent sizes differ.
    """
    if encoder.latent_dim != decoder.latent_dim:
        raise InvalidModelError(
            f"Encoder {encoder.path} has latent_dim={encoder.latent_dim} but decoder "
            f"{decoder.path} has latent_dim={decoder.latent_dim}; pass a matching pair."
        )
    return decoder.decode(encoder.encode(images))


class Translator:
    """Translate images with an exported image-to-image model (pix2pix).

    Args:
        path: the `.onnx` file, with `zoo_task=translator`, an `images` input
            and a `translated` output in [0, 1].
        providers: onnxruntime execution providers. Default: CUDA when usable.
        batch_size: images per session run.
    """

    def __init__(self, path, providers=None, batch_size=16):
        self.model = OnnxModel(path, providers, tasks=("translator",))
        self.model.require_task("translator")
        self.model.require_io(inputs=["images"], outputs=["translated"])
        self.input_shape = self.model.image_shape("images")
        self.batch_size = batch_size

    @property
    def path(self):
        """The `.onnx` file."""
        return self.model.path

    def translate(self, images):
        """Translate a batch of images.

        Returns:
            float32 array of shape (N, H, W, C) in [0, 1].
        """
        height, width, channels = self.input_shape
        batch = prepare_images(images, height, width, channels)
        translated = run_in_batches(self.model, "images", batch, ["translated"], self.batch_size)
        return check_image_output(translated["translated"], self.path, "translated")


def make_grid(images, ncols=8, padding=2, background=1.0):
    """Tile images into one grid image.

    Args:
        images: float array (N, H, W, C) in [0, 1] with C in {1, 3}, or a
            list of (H, W, C) arrays of one size. Grey and RGB may be mixed.
        ncols: tiles per row.
        padding: pixels between tiles and around the border.
        background: value of the padding, in [0, 1].

    Returns:
        float32 array of shape (rows * (H + padding) + padding,
        ncols' * (W + padding) + padding, C), where ncols' = min(ncols, N).
    """
    if len(images) == 0:
        raise InvalidInputError("make_grid needs at least one image.")
    if not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise InvalidInputError(f"ncols must be a positive integer. Received: {ncols!r}")
    shapes = {np.shape(image) for image in images}
    if any(len(shape) != 3 or shape[-1] not in (1, 3) for shape in shapes):
        raise InvalidInputError(
            f"Grid images must have shape (H, W, 1) or (H, W, 3); received shapes {sorted(shapes)}."
        )
    channels = max(shape[-1] for shape in shapes)
    tiles = [convert_channels(np.asarray(image, dtype=np.float32), channels) for image in images]
    if len({tile.shape for tile in tiles}) != 1:
        raise InvalidInputError(f"Grid images must share one size; received shapes {sorted(shapes)}.")

    height, width = tiles[0].shape[:2]
    ncols = min(ncols, len(tiles))
    nrows = -(-len(tiles) // ncols)
    grid = np.full(
        (nrows * (height + padding) + padding, ncols * (width + padding) + padding, channels),
        background,
        dtype=np.float32,
    )
    for index, tile in enumerate(tiles):
        row, col = divmod(index, ncols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = tile
    return grid


def save_grid(images, path, ncols=8, padding=2):
    """Write images as one PNG grid, atomically (temp file, fsync, os.replace).

    Args:
        images: see `make_grid`.
        path: the output file; PNG is written whatever the suffix.
        ncols: tiles per row.
        padding: white pixels between tiles.

    Returns:
        The grid as uint8 (H, W, C), as written.

    Raises:
        MissingDependencyError: Pillow is not installed.
    """
    Image = import_pillow()
    grid = to_uint8(make_grid(images, ncols=ncols, padding=padding))
    pixels = grid[:, :, 0] if grid.shape[-1] == 1 else grid
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return grid
