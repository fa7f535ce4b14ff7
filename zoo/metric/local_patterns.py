"""Local binary patterns: a fixed texture descriptor joined to a learned embedding.

With 30 training people the learned embedder generalises to new people
only so far. Histograms of uniform local binary patterns (LBP) over a grid
of cells need no training at all, and a whitening fitted on the training
photos turns them into a descriptor that ranks faces well where the
learned embedding is weak. `add_local_patterns` joins the two into one
embedder, so the exported model still maps an image to one unit vector.
"""

import logging
import numbers

import keras
import numpy as np
from keras import ops

from zoo.errors import InvalidConfigError, InvalidInputError
from zoo.metric.embedder import L2Normalization, build_embedding_model, single_view_network

logger = logging.getLogger(__name__)

# The 8 neighbours at distance 1, clockwise from the top left. Bit i of a
# pixel's code is 1 when neighbour i is at least as bright as the pixel.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def uniform_pattern_bins():
    """Map each 8-bit code to its histogram bin.

    A code is uniform when its circular bit string has at most 2 changes
    between 0 and 1. Each of the 58 uniform codes gets its own bin, in
    increasing code order, and all other codes share bin 58.

    Returns:
        An int32 array of shape (256,) with values in 0..58.
    """
    bins = np.zeros(256, dtype=np.int32)
    uniform = 0
    for code in range(256):
        bits = [(code >> bit) & 1 for bit in range(8)]
        changes = sum(bits[bit] != bits[(bit + 1) % 8] for bit in range(8))
        if changes <= 2:
            bins[code] = uniform
            uniform += 1
        else:
            bins[code] = -1
    bins[bins < 0] = uniform
    return bins


UNIFORM_BINS = uniform_pattern_bins()
NUM_BINS = int(UNIFORM_BINS.max()) + 1


def _is_positive_integer(value):
    """Return whether `value` is an integer >= 1 of any numeric type, `True` and `"3"` excluded."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and float(value).is_integer()
        and value >= 1
    )


@keras.saving.register_keras_serializable(package="zoo")
class LocalBinaryPatterns(keras.layers.Layer):
    """Square roots of uniform-LBP histograms over a grid of cells.

    The image (averaged over channels) loses its 1-pixel border, each
    remaining pixel gets the 8-bit code of `NEIGHBOURS`, and each cell of
    a `grid` of near-equal cells gets the normalised histogram of its
    codes' `uniform_pattern_bins`. The square root makes the Euclidean
    distance between two descriptors the Hellinger distance of their
    histograms, which counts rare patterns fairly against common ones.
    The layer has no weights; codes depend only on the order of pixel
    values, so brightness and contrast changes leave them unchanged.

    Args:
        grid: `(rows, columns)` of cells.

    Input: float images (B, H, W, C) with H, W >= 3.
    Output: float32 (B, rows * columns * 59), each cell's 59 values with
        squares summing to 1.
    """

    def __init__(self, grid=(7, 6), **kwargs):
        super().__init__(**kwargs)
        sizes = tuple(grid) if isinstance(grid, (list, tuple, np.ndarray)) else None
        if sizes is None or len(sizes) != 2 or not all(_is_positive_integer(size) for size in sizes):
            raise InvalidConfigError(
                "LocalBinaryPatterns expects grid=(rows, columns) of positive integers. "
                f"Received: grid={sizes if sizes is not None else grid!r}"
            )
        self.grid = tuple(int(size) for size in sizes)

    def build(self, input_shape):
        self._cell_edges(input_shape)
        self.built = True

    def _cell_edges(self, input_shape):
        """Return the `(start, stop)` rows and columns of the cells of images of `input_shape`.

        The edges are those of `np.array_split`, so the first cells take one
        extra row or column. Each call computes them from its own shape,
        because edges kept from another size would leave cells empty (NaN
        histograms) or pixels out.
        """
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise InvalidInputError(
                "LocalBinaryPatterns expects images (B, H, W, C) of a known height and width. "
                f"Received shape {tuple(input_shape)}. Add the batch and channel axes, "
                "and give keras.Input a fixed (H, W, C)."
            )
        height, width = input_shape[1] - 2, input_shape[2] - 2
        if height < self.grid[0] or width < self.grid[1]:
            raise InvalidConfigError(
                f"LocalBinaryPatterns with grid={self.grid} needs images of at least "
                f"{self.grid[0] + 2} x {self.grid[1] + 2} pixels. Received: {input_shape[1]} x {input_shape[2]}. "
                "Use a smaller grid or larger images."
            )
        rows = [(part[0], part[-1] + 1) for part in np.array_split(np.arange(height), self.grid[0])]
        columns = [(part[0], part[-1] + 1) for part in np.array_split(np.arange(width), self.grid[1])]
        return rows, columns

    def call(self, images):
        rows, columns = self._cell_edges(images.shape)
        grey = ops.mean(ops.cast(images, "float32"), axis=-1)
        height, width = grey.shape[1], grey.shape[2]
        centre = grey[:, 1 : height - 1, 1 : width - 1]

        codes = ops.zeros_like(centre, dtype="int32")
        for bit, (dy, dx) in enumerate(NEIGHBOURS):
            neighbour = grey[:, 1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx]
            codes = codes + ops.cast(ops.greater_equal(neighbour, centre), "int32") * (1 << bit)

        # One-hot codes cell by cell: for the whole image at once they would
        # take B x H x W x 59 floats, 600 MB for a batch of 256 ORL photos.
        bins = ops.take(ops.convert_to_tensor(UNIFORM_BINS), codes)
        histograms = [
            ops.mean(ops.one_hot(bins[:, top:bottom, left:right], NUM_BINS, dtype="float32"), axis=(1, 2))
            for top, bottom in rows
            for left, right in columns
        ]
        return ops.sqrt(ops.concatenate(histograms, axis=-1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.grid[0] * self.grid[1] * NUM_BINS)

    def compute_output_spec(self, images):
        return keras.KerasTensor(self.compute_output_shape(images.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config["grid"] = list(self.grid)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class Whitening(keras.layers.Layer):
    """Project features onto their leading principal axes, each scaled to unit variance.

    The mean and the projection are fixed weights set by `adapt`, like the
    statistics of `keras.layers.Normalization`; the optimizer never
    changes them.

    Args:
        components: the number of principal axes kept, >= 1.
        epsilon: the smallest standard deviation an axis is divided by, as
            a fraction of the largest axis's. Directions with almost no
            variance in the training features (duplicate or mirror-symmetric
            views) would otherwise be scaled up a millionfold and dominate
            distances.
    """

    def __init__(self, components, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if not _is_positive_integer(components):
            raise InvalidConfigError(f"Whitening expects an integer components >= 1. Received: {components!r}")
        self.components = int(components)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        features = input_shape[-1]
        if features < self.components:
            raise InvalidConfigError(
                f"Whitening keeps {self.components} components, so it needs at least that many input "
                f"features. Received: {features}. Lower components."
            )
        self.mean = self.add_weight(shape=(features,), initializer="zeros", trainable=False, name="mean")
        self.projection = self.add_weight(
            shape=(features, self.components), initializer="zeros", trainable=False, name="projection"
        )
        self.built = True

    def adapt(self, features):
        """Fit the mean and the whitening projection to `features`, a (N, D) array.

        Raises:
            InvalidInputError: for non-finite values, fewer than
                `components + 1` rows (the sample covariance of N rows has
                rank N - 1 at most), or a D other than the one the layer
                was built for.
        """
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) < self.components + 1:
            raise InvalidInputError(
                f"Whitening.adapt expects a (N, D) array with N >= components + 1 = {self.components + 1}. "
                f"Received shape {features.shape}. Pass more samples, or lower components."
            )
        if not np.all(np.isfinite(features)):
            raise InvalidInputError("Whitening.adapt received NaN or infinite features. Expected finite values.")
        if not self.built:
            self.build(features.shape)
        elif features.shape[1] != self.mean.shape[0]:
            raise InvalidInputError(
                f"Whitening was built for {self.mean.shape[0]} features per row. Received: {features.shape[1]}. "
                "Adapt a new Whitening layer to features of another size."
            )

        mean = features.mean(axis=0)
        _, singular_values, axes = np.linalg.svd(features - mean, full_matrices=False)
        std = singular_values[: self.components] / np.sqrt(len(features) - 1)
        if std[0] == 0:
            raise InvalidInputError(
                "Whitening.adapt received rows that are all the same, so there is no axis to whiten. "
                "Expected features that vary between samples."
            )
        projection = axes[: self.components].T / np.maximum(std, self.epsilon * std[0])

        self.mean.assign(mean.astype("float32"))
        self.projection.assign(projection.astype("float32"))

    def call(self, features):
        return ops.matmul(ops.cast(features, "float32") - self.mean, self.projection)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.components)

    def get_config(self):
        config = super().get_config()
        config.update({"components": self.components, "epsilon": self.epsilon})
        return config


def add_local_patterns(embedder, images, weight=1.0, grid=(7, 6), components=150, batch_size=50):
    """Join a trained embedder's embeddings with whitened LBP histograms.

    The new embedding is the unit-norm concatenation of the learned
    embedding and `weight` times the unit-norm whitened LBP descriptor,
    so `weight` sets the share of the descriptor in squared distances.
    The whitening is fitted on `images` and their horizontal mirrors.
    When the embedder averages mirror views (`MirrorAverage`), the
    joined network is averaged the same way.

    Args:
        embedder: a trained model `images` -> unit vectors (D,), as built
            by `build_embedder`.
        images: the training images, (N, H, W, C) float32 in [0, 1].
        weight: the weight of the descriptor, > 0.
        grid: the LBP cell grid `(rows, columns)`.
        components: the whitened dimensions kept; lowered to 2N - 1 when
            fewer samples are given.
        batch_size: images per LBP batch while fitting.

    Returns:
        A new `keras.Model` `images` -> `embeddings` of shape
        (B, D + components), sharing the embedder's weights.

    Raises:
        InvalidConfigError: for a weight that is not a finite number > 0,
            or a grid that does not fit the images.
        InvalidInputError: for `images` that are not a non-empty (N, H, W, C) batch.
    """
    if not (isinstance(weight, numbers.Real) and not isinstance(weight, bool) and np.isfinite(weight) and weight > 0):
        raise InvalidConfigError(
            f"The local-pattern weight must be a finite number > 0. Received: {weight!r}. "
            "Use 1.0, or leave the descriptor out."
        )
    if not _is_positive_integer(components):
        raise InvalidConfigError(
            f"add_local_patterns expects an integer components >= 1. Received: components={components!r}."
        )

    network, mirror_average = single_view_network(embedder)

    patterns = LocalBinaryPatterns(grid, name="local_patterns")
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or len(images) == 0:
        raise InvalidInputError(
            f"add_local_patterns fits the whitening on training images (N, H, W, C) with N >= 1. "
            f"Received shape {images.shape}. Pass the embedder's training images."
        )
    views = np.concatenate([images, images[:, :, ::-1]])
    features = np.concatenate([
        ops.convert_to_numpy(patterns(views[start : start + batch_size]))
        for start in range(0, len(views), batch_size)
    ])
    if components > len(views) - 1:
        logger.warning(
            "Lowered the whitened LBP dimensions from %d to %d: %d images and their mirrors give a "
            "covariance of rank %d at most.",
            components, len(views) - 1, len(images), len(views) - 1,
        )
    whitening = Whitening(min(int(components), len(views) - 1), name="local_patterns_whitening")
    whitening.adapt(features)

    inputs = keras.Input(shape=embedder.input_shape[1:], name="images")
    descriptor = L2Normalization(name="local_patterns_normalization")(whitening(patterns(inputs)))
    joined = keras.layers.Concatenate(name="joined")(
        [network(inputs), keras.layers.Rescaling(float(weight), name="local_patterns_weight")(descriptor)]
    )
    # The joined network contains the trained one, `<name>_network`, so it takes another name.
    return build_embedding_model(
        inputs, joined, embedder.name, mirror_average, network_name=f"{embedder.name}_joined_network"
    )
