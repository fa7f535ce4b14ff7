"""`Embedder`: embeddings, 1:1 verification and identification thresholds from an ONNX embedder."""

import dataclasses
import logging
import math

import numpy as np

from serving.errors import InvalidInputError, InvalidModelError
from serving.images import prepare_images
from serving.runtime import OnnxModel, run_in_batches

logger = logging.getLogger(__name__)

# How far from 1 an embedding's L2 norm may be before the model is rejected.
# float32 normalisation is exact to about 1e-6; 1e-3 leaves room for fp16 graphs.
NORM_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """Outcome of comparing two images.

    Attributes:
        distance: Euclidean distance between the two L2-normalised
            embeddings, in [0, 2].
        threshold: the distance threshold used, from the model metadata.
        same: True when `distance <= threshold`.
    """

    distance: float
    threshold: float
    same: bool


@dataclasses.dataclass(frozen=True)
class IdentifyThreshold:
    """A distance threshold for open-set identification and the error rate it was calibrated at.

    Attributes:
        value: the largest distance accepted as a match.
        fpir: the false positive identification rate of an open-set
            threshold, or None.
        far: the false accept rate of a 1:1 verification threshold used in
            place of an open-set one, or None.
    """

    value: float
    fpir: float | None = None
    far: float | None = None


def euclidean_distances(probes, references):
    """Return the (P, R) Euclidean distances between two sets of embeddings."""
    probes = probes.astype(np.float64)
    references = references.astype(np.float64)
    squared = (
        np.sum(probes**2, axis=1)[:, None]
        + np.sum(references**2, axis=1)[None, :]
        - 2.0 * probes @ references.T
    )
    # Rounding can make the squared distance of near-equal vectors slightly negative.
    return np.sqrt(np.clip(squared, 0.0, None))


def check_embeddings(embeddings, dim, name="embeddings"):
    """Validate an (N, dim) or (dim,) array of L2-normalised embeddings.

    Returns:
        float32 array of shape (N, dim).

    Raises:
        InvalidInputError: wrong shape or dtype, non-finite values, or a norm
            farther than `NORM_TOLERANCE` from 1.
    """
    array = np.asarray(embeddings)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dim or array.shape[0] == 0:
        raise InvalidInputError(
            f"{name} must have shape (N, {dim}) with N >= 1; received {np.shape(embeddings)}."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidInputError(f"{name} must be floating point; received dtype {array.dtype}.")
    if not np.isfinite(array).all():
        raise InvalidInputError(f"{name} contain NaN or inf values.")
    norms = np.linalg.norm(array.astype(np.float64), axis=1)
    if np.abs(norms - 1.0).max() > NORM_TOLERANCE:
        raise InvalidInputError(
            f"{name} must be L2-normalised; received norms in [{norms.min():.4g}, "
            f"{norms.max():.4g}]. Divide each row by its norm first."
        )
    return array.astype(np.float32)


class Embedder:
    """Embed images with an exported embedder and compare them.

    The model must have `zoo_task=embedder`, an `images` input (float32
    NHWC in [0, 1]) and an `embeddings` output that is L2-normalised.
    Preprocessing follows the metadata `input_height`, `input_width` and
    `input_channels`.

    Args:
        path: the `.onnx` file, or an artifact folder: its part with this
            wrapper's `zoo_task` is loaded.
        providers: onnxruntime execution providers. Default: CUDA when
            usable, else CPU.
        batch_size: images per session run.

    Raises:
        ModelNotFoundError, CorruptFileError: the file is missing or not ONNX.
        InvalidModelError: the model is not an embedder or lacks metadata.
    """

    def __init__(self, path, providers=None, batch_size=64):
        self.model = OnnxModel(path, providers, tasks=("embedder",))
        self.model.require_task("embedder")
        self.model.require_io(inputs=["images"], outputs=["embeddings"])
        self.input_shape = self.model.image_shape("images")
        declared = self.model.outputs["embeddings"].shape
        static_dim = declared[-1] if len(declared) == 2 else None
        self.embedding_dim = self.model.metadata_int("embedding_dim", default=static_dim)
        if static_dim is not None and static_dim != self.embedding_dim:
            raise InvalidModelError(
                f"{path}: metadata embedding_dim={self.embedding_dim} but the 'embeddings' "
                f"output is declared {declared}. Export the model again."
            )
        self.batch_size = batch_size
        self._warned_verification_fallback = False

    @property
    def path(self):
        """The `.onnx` file."""
        return self.model.path

    @property
    def model_sha256(self):
        """SHA-256 of the `.onnx` file, which a gallery stores to detect a model change."""
        return self.model.sha256

    def embed(self, images):
        """Embed a batch of images.

        Args:
            images: anything `serving.images.prepare_images` reads: paths,
                bytes, an (N, H, W, C) or (H, W, C) array, or a list of them.
                A single-channel model also takes (H, W) grey arrays, alone
                or in a list, and an (N, H, W) grey batch whose last axis is
                not 1, 3 or 4. Images of another size or channel count are
                converted.

        Returns:
            float32 array of shape (N, embedding_dim) with unit L2 norm rows.

        Raises:
            InvalidInputError: an unreadable image or a bad array.
            InvalidModelError: the model output is not L2-normalised.
        """
        height, width, channels = self.input_shape
        if channels == 1:
            images = _add_grey_channel_axis(images)
        batch = prepare_images(images, height, width, channels)
        embeddings = run_in_batches(self.model, "images", batch, ["embeddings"], self.batch_size)[
            "embeddings"
        ]

        if embeddings.shape != (len(batch), self.embedding_dim):
            raise InvalidModelError(
                f"{self.path} returned embeddings of shape {embeddings.shape}; expected "
                f"({len(batch)}, {self.embedding_dim})."
            )
        norms = np.linalg.norm(embeddings.astype(np.float64), axis=1)
        if not np.isfinite(norms).all() or np.abs(norms - 1.0).max() > NORM_TOLERANCE:
            raise InvalidModelError(
                f"{self.path} returned embeddings that are not L2-normalised (norms in "
                f"[{norms.min():.4g}, {norms.max():.4g}]). Export the embedder with its "
                "L2-normalisation layer: distances and thresholds assume unit vectors."
            )
        return embeddings.astype(np.float32, copy=False)

    def thresholds(self):
        """Return the 1:1 verification thresholds in the metadata as a dict FAR -> threshold."""
        return self._rate_table("threshold_far_")

    def threshold(self, far=1e-2):
        """Return the 1:1 verification distance threshold for a false accept rate.

        The exporter stores thresholds as metadata `threshold_far_1e-2` and
        `threshold_far_1e-3`, measured on held-out pairs with the same
        Euclidean distance as `verify`.

        Args:
            far: the false accept rate, for example 1e-2 or 1e-3.

        Raises:
            InvalidModelError: the model has no threshold for this FAR.
        """
        return self._stored_threshold("threshold_far_", far, "threshold for FAR")

    def open_set_thresholds(self):
        """Return the open-set identification thresholds in the metadata as a dict FPIR -> threshold."""
        return self._rate_table("threshold_fpir_")

    def open_set_threshold(self, fpir=1e-2):
        """Return the open-set identification distance threshold for a false positive identification rate.

        A probe searched against a gallery is a false positive when its
        person is not enrolled but its nearest enrolled person is within the
        threshold. The exporter stores thresholds as metadata
        `threshold_fpir_1e-2` and `threshold_fpir_1e-3`, fitted on such
        searches of held-out people against galleries of
        `open_set_gallery_identities` people. They are usually stricter
        (smaller) than the 1:1 thresholds of `threshold`, because a search
        compares the probe with every enrolled person.

        Note:
            At the same threshold a larger gallery gives a higher FPIR, so
            the stored rate holds for galleries of about the calibration size.

        Args:
            fpir: the false positive identification rate, for example 1e-2.

        Raises:
            InvalidModelError: the model has no threshold for this FPIR.
                Models exported before open-set evaluation have none.
        """
        return self._stored_threshold(
            "threshold_fpir_",
            fpir,
            "open-set threshold for FPIR",
            " An FPIR is stored only when the evaluation had at least 1/FPIR searches by people "
            "not enrolled, and models exported before open-set thresholds were stored have none.",
        )

    @property
    def open_set_gallery_identities(self):
        """The mean gallery size, in people, that the open-set thresholds were fitted on, or None."""
        value = self.model.metadata.get("open_set_gallery_identities")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError as error:
            raise InvalidModelError(
                f"{self.path} metadata open_set_gallery_identities={value!r} is not a number."
            ) from error

    def identify_threshold(self):
        """Return the default threshold of `Gallery.identify`.

        That is the open-set threshold for FPIR 1e-2. A model exported
        without one falls back to the 1:1 verification threshold for FAR
        1e-2, with one logged warning per `Embedder`.

        Returns:
            An `IdentifyThreshold`.

        Raises:
            InvalidModelError: the model has neither threshold.
        """
        open_set = lookup_threshold(self.open_set_thresholds(), 1e-2)
        if open_set is not None:
            return IdentifyThreshold(value=open_set, fpir=1e-2)

        verification = lookup_threshold(self.thresholds(), 1e-2)
        if verification is None:
            raise InvalidModelError(
                f"{self.path} has neither an open-set threshold for FPIR 1e-2 nor a 1:1 threshold "
                "for FAR 1e-2 in its metadata. Pass a threshold directly."
            )
        if not self._warned_verification_fallback:
            self._warned_verification_fallback = True
            logger.warning(
                "%s has no open-set threshold for FPIR 1e-2, so identification uses its 1:1 "
                "verification threshold for FAR 1e-2 (%.4f). A 1:1 threshold accepts more people "
                "who are not enrolled when a probe is searched against many. Export the model again "
                "from a run with open-set evaluation, or pass a threshold.",
                self.path,
                verification,
            )
        return IdentifyThreshold(value=verification, far=1e-2)

    def select_identify_threshold(self, threshold=None, fpir=None, far=None):
        """Choose the threshold of one identification request, for the CLI and HTTP /identify.

        A given `threshold` wins over both rates. Otherwise `far` selects a
        stored 1:1 verification threshold and `fpir` a stored open-set one,
        and with neither the default of `identify_threshold` applies.

        Args:
            threshold: a distance threshold, or None.
            fpir: a false positive identification rate, or None.
            far: a false accept rate, or None.

        Returns:
            An `IdentifyThreshold`, with both rates None for a given threshold.

        Raises:
            InvalidInputError: both `fpir` and `far` without a `threshold`.
            InvalidModelError: the model has no threshold for the rate, or
                neither default threshold.
        """
        if threshold is not None:
            return IdentifyThreshold(value=float(threshold))

        if fpir is not None and far is not None:
            raise InvalidInputError(
                f"Pass at most one of fpir and far. Received: fpir={fpir:g}, far={far:g}. "
                "Drop one of them, or pass a threshold."
            )
        if far is not None:
            return IdentifyThreshold(value=self.threshold(far), far=far)
        if fpir is not None:
            return IdentifyThreshold(value=self.open_set_threshold(fpir), fpir=fpir)
        return self.identify_threshold()

    def _stored_threshold(self, prefix, rate, what, advice=""):
        """Return the threshold stored as `<prefix><rate>`, or raise `InvalidModelError` listing the stored rates."""
        table = self._rate_table(prefix)
        value = lookup_threshold(table, rate)
        if value is None:
            raise InvalidModelError(
                f"{self.path} has no {what} {rate:g}. It has thresholds for {sorted(table) or 'no rate'}. "
                f"Pass one of those, or a threshold directly.{advice}"
            )
        return value

    def _rate_table(self, prefix):
        """Return the metadata keys `<prefix><rate>` as a dict rate -> threshold."""
        table = {}
        for key, value in self.model.metadata.items():
            if key.startswith(prefix):
                try:
                    table[float(key[len(prefix) :])] = float(value)
                except ValueError as error:
                    raise InvalidModelError(
                        f"{self.path} metadata {key}={value!r} is not a number."
                    ) from error
        return table

    def verify(self, image_a, image_b, far=1e-2, threshold=None):
        """Decide whether two images show the same identity.

        The distance is the plain (not squared) Euclidean distance between
        the two L2-normalised embeddings, in [0, 2]. The recipes compute the
        stored thresholds on this same distance.

        Args:
            image_a: one image (path, bytes or (H, W, C) array).
            image_b: one image.
            far: the false accept rate whose threshold is used.
            threshold: a distance threshold that overrides `far`.

        Returns:
            `VerifyResult(distance, threshold, same)`, `same` meaning
            `distance <= threshold`.
        """
        if threshold is None:
            threshold = self.threshold(far)
        embeddings = self.embed([image_a, image_b])
        distance = float(euclidean_distances(embeddings[:1], embeddings[1:])[0, 0])
        return VerifyResult(distance=distance, threshold=float(threshold), same=distance <= threshold)


def lookup_threshold(table, rate):
    """Return the threshold of `table` (rate -> threshold) for `rate`, or None."""
    for stored_rate, value in table.items():
        if math.isclose(stored_rate, rate, rel_tol=1e-9):
            return value
    return None


def _add_grey_channel_axis(images):
    """Add the channel axis to (H, W) grey arrays and to an (N, H, W) grey batch.

    A 3-D array whose last axis is 1, 3 or 4 stays an (H, W, C) image.
    """
    if isinstance(images, np.ndarray):
        if images.ndim == 2 or images.ndim == 3 and images.shape[-1] not in (1, 3, 4):
            return images[..., None]
        return images
    if isinstance(images, (list, tuple)):
        return [
            image[:, :, None] if isinstance(image, np.ndarray) and image.ndim == 2 else image
            for image in images
        ]
    return images
