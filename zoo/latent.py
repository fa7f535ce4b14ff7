"""Latent-space tools that work with any encoder, decoder or generator.

The functions take and return NumPy arrays and compute with `keras.ops`,
so they run on every backend. Latents are float32 arrays of shape
(n, latent_dim).
"""

import numpy as np
from keras import ops

from zoo.errors import InvalidConfigError, InvalidInputError

# Below this angle (radians) between two latents, slerp falls back to the
# linear path, which it matches to within float32 rounding there.
SLERP_MIN_ANGLE = 1e-4


def check_latents(z, latent_dim=None, name="z"):
    """Return `z` as float32 of shape (n, latent_dim), or raise.

    Args:
        z: array-like of shape (n, latent_dim), or (latent_dim,) for one
            latent, which becomes (1, latent_dim).
        latent_dim: the expected size, or None to accept any.
        name: the argument name used in error messages.

    Raises:
        InvalidInputError: on a wrong rank or size, or NaN or infinite values.
    """
    array = np.asarray(ops.convert_to_numpy(z) if not isinstance(z, np.ndarray) else z)
    expected = f"(n, {latent_dim})" if latent_dim is not None else "(n, latent_dim)"
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or (latent_dim is not None and array.shape[1] != latent_dim):
        raise InvalidInputError(
            f"{name} must have shape {expected}. Received: shape {array.shape}. "
            "Pass latents of the size the model was trained with."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise InvalidInputError(f"{name} must be numeric. Received: dtype {array.dtype}.")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(
            f"{name} of shape {array.shape} contains NaN or infinite values; "
            f"expected finite values of shape {expected}."
        )
    return array.astype("float32")


def latent_dim_of(model):
    """Return the size of the latent input of a decoder or generator."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or len(shape) != 2 or shape[1] is None:
        raise InvalidConfigError(
            f"Expected a decoder or generator with one input of shape (batch, latent_dim). "
            f"Received a model with input shape {shape}."
        )
    return int(shape[1])


def sample_prior(num_samples, latent_dim, seed=0, temperature=1.0):
    """Draw `num_samples` latents from N(0, temperature^2 I).

    Args:
        num_samples: the number of latents, >= 1.
        latent_dim: the latent size, >= 1.
        seed: the seed of the NumPy generator, so that grids repeat.
        temperature: the standard deviation; values below 1 give typical
            samples.

    Returns:
        float32 array of shape (num_samples, latent_dim).
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise InvalidConfigError(f"num_samples must be an integer >= 1. Received: {num_samples!r}")
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise InvalidConfigError(f"latent_dim must be an integer >= 1. Received: {latent_dim!r}")
    rng = np.random.default_rng(seed)
    return (temperature * rng.standard_normal((num_samples, latent_dim))).astype("float32")


def encode(encoder, images, batch_size=256):
    """Return the latents of `images`: `z`, or `z_mean` for a VAE encoder.

    Args:
        encoder: a model from images to `z`, or to `[z_mean, z_log_var]`.
        images: float32 array (n, height, width, channels) in [0, 1].
        batch_size: images per forward pass.

    Returns:
        float32 array of shape (n, latent_dim).
    """
    images = np.asarray(images, dtype="float32")
    expected = tuple(encoder.inputs[0].shape[1:])
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise InvalidInputError(
            f"The encoder expects images of shape (n, {', '.join(map(str, expected))}). "
            f"Received: shape {images.shape}."
        )

    outputs = []
    for start in range(0, len(images), batch_size):
        result = encoder(images[start : start + batch_size], training=False)
        if isinstance(result, (list, tuple)):
            result = result[0]
        outputs.append(ops.convert_to_numpy(result))
    return np.concatenate(outputs).astype("float32")


def decode(decoder, z, batch_size=256):
    """Return the images that `decoder` makes from latents `z`.

    Args:
        decoder: a model from `z` (batch, latent_dim) to images.
        z: array of shape (n, latent_dim).
        batch_size: latents per forward pass.

    Returns:
        float32 array of shape (n, height, width, channels).
    """
    z = check_latents(z, latent_dim_of(decoder))
    outputs = [
        ops.convert_to_numpy(decoder(z[start : start + batch_size], training=False))
        for start in range(0, len(z), batch_size)
    ]
    return np.concatenate(outputs).astype("float32")


def lerp(z_start, z_end, steps):
    """Return `steps` points on the straight line from `z_start` to `z_end`.

    Args:
        z_start: array of shape (latent_dim,).
        z_end: array of shape (latent_dim,).
        steps: the number of points, >= 2, ends included.

    Returns:
        float32 array of shape (steps, latent_dim).
    """
    start, end, t = _path_inputs(z_start, z_end, steps)
    start, end = ops.convert_to_tensor(start), ops.convert_to_tensor(end)
    path = (1.0 - t) * start[None, :] + t * end[None, :]
    return ops.convert_to_numpy(path).astype("float32")


def slerp(z_start, z_end, steps):
    """Return `steps` points on the spherical path from `z_start` to `z_end`.

    Spherical linear interpolation (Shoemake, 1985; White, 2016) keeps the
    norm near that of typical prior samples, where a straight line through a
    Gaussian prior passes the low-density region near the origin. The angle
    is measured between the two vectors, and their norms are interpolated
    with it. For nearly parallel vectors (angle < 1e-4 rad) the path is
    linear, which avoids dividing by sin(angle) near 0. Antiparallel vectors
    have no unique great circle; the formula then still returns a path
    through the origin.

    Args:
        z_start: array of shape (latent_dim,), not all zeros.
        z_end: array of shape (latent_dim,), not all zeros.
        steps: the number of points, >= 2, ends included.

    Returns:
        float32 array of shape (steps, latent_dim).
    """
    start, end, t = _path_inputs(z_start, z_end, steps)
    norms = np.linalg.norm(start.astype("float64")), np.linalg.norm(end.astype("float64"))
    if min(norms) == 0:
        raise InvalidInputError(
            "slerp needs two non-zero latents because the angle to a zero vector "
            "is undefined. Use lerp for paths from the origin."
        )

    cosine = float(np.dot(start, end) / (norms[0] * norms[1]))
    angle = float(np.arccos(np.clip(cosine, -1.0, 1.0)))
    if angle < SLERP_MIN_ANGLE:
        return lerp(start, end, steps)

    start, end = ops.convert_to_tensor(start), ops.convert_to_tensor(end)
    sine = np.sin(angle)
    start_weight = ops.sin((1.0 - t) * angle) / sine
    end_weight = ops.sin(t * angle) / sine
    path = start_weight * start[None, :] + end_weight * end[None, :]
    return ops.convert_to_numpy(path).astype("float32")


def attribute_vector(latents_with, latents_without):
    """Return the mean latent of one set minus the mean latent of another.

    For example the mean latent of sneakers minus that of sandals; adding it
    to other latents moves them along that difference.

    Args:
        latents_with: array of shape (n, latent_dim), n >= 1.
        latents_without: array of shape (m, latent_dim), m >= 1.

    Returns:
        float32 array of shape (latent_dim,).
    """
    first = check_latents(latents_with, name="latents_with")
    second = check_latents(latents_without, first.shape[1], name="latents_without")
    difference = ops.mean(ops.convert_to_tensor(first), axis=0) - ops.mean(
        ops.convert_to_tensor(second), axis=0
    )
    return ops.convert_to_numpy(difference).astype("float32")


def apply_attribute(latents, vector, scale=1.0):
    """Return `latents + scale * vector`, row by row.

    Args:
        latents: array of shape (n, latent_dim).
        vector: array of shape (latent_dim,), from `attribute_vector`.
        scale: how far to move; negative values move the other way.

    Returns:
        float32 array of shape (n, latent_dim).
    """
    vector = check_latents(vector, name="vector")
    latents = check_latents(latents, vector.shape[1], name="latents")
    moved = ops.convert_to_tensor(latents) + scale * ops.convert_to_tensor(vector)
    return ops.convert_to_numpy(moved).astype("float32")


def nearest_neighbours(queries, bank, k=5):
    """Find the `k` latents of `bank` closest to each query (Euclidean).

    Args:
        queries: array of shape (n, latent_dim).
        bank: array of shape (m, latent_dim), m >= k.
        k: the number of neighbours.

    Returns:
        `(indices, distances)`: int64 array (n, k) of rows of `bank` and
        float32 array (n, k) of distances, nearest first.
    """
    bank = check_latents(bank, name="bank")
    queries = check_latents(queries, bank.shape[1], name="queries")
    if not isinstance(k, int) or not 1 <= k <= len(bank):
        raise InvalidConfigError(
            f"k must be an integer in [1, {len(bank)}] (the bank size). Received: {k!r}"
        )

    query_tensor = ops.convert_to_tensor(queries)
    bank_tensor = ops.convert_to_tensor(bank)
    squared = (
        ops.sum(ops.square(query_tensor), axis=1)[:, None]
        - 2.0 * ops.matmul(query_tensor, ops.transpose(bank_tensor))
        + ops.sum(ops.square(bank_tensor), axis=1)[None, :]
    )
    negative_distances, indices = ops.top_k(-ops.sqrt(ops.maximum(squared, 0.0)), k=k)
    return (
        ops.convert_to_numpy(indices).astype("int64"),
        (-ops.convert_to_numpy(negative_distances)).astype("float32"),
    )


def _path_inputs(z_start, z_end, steps):
    start = check_latents(z_start, name="z_start")
    end = check_latents(z_end, start.shape[1], name="z_end")
    if len(start) != 1 or len(end) != 1:
        raise InvalidInputError(
            f"Interpolation takes two single latents of shape ({start.shape[1]},). "
            f"Received: shapes {start.shape} and {end.shape}."
        )
    if not isinstance(steps, int) or steps < 2:
        raise InvalidConfigError(f"steps must be an integer >= 2. Received: {steps!r}")
    t = ops.convert_to_tensor(np.linspace(0.0, 1.0, steps, dtype="float32")[:, None])
    return start[0], end[0], t
