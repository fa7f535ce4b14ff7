"""The labelled image set that every loader returns, and selection by mask."""

import dataclasses

import numpy as np

from zoo.errors import InvalidInputError


@dataclasses.dataclass
class LabelledImages:
    """A set of labelled images in the layout the zoo models take.

    Attributes:
        images: float32 array of shape (N, H, W, C), values in [0, 1].
        labels: int64 array of shape (N,), the index into `names`.
        names: class or person names, `names[label]` names the label.
        source: the path or URL the data came from.
        photo_ids: int64 array of shape (N,), the photo number of each face
            within its person (1..10 for ORL and Olivetti), or None for sets
            without photo numbers.
    """

    images: np.ndarray
    labels: np.ndarray
    names: list
    source: str
    photo_ids: np.ndarray | None = None

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise InvalidInputError(
                "LabelledImages.images must be a float32 array of shape (N, H, W, C). "
                f"Received: dtype {self.images.dtype}, shape {self.images.shape}."
            )
        count = len(self.images)
        if self.labels.shape != (count,) or self.labels.dtype != np.int64:
            raise InvalidInputError(
                f"LabelledImages.labels must be an int64 array of shape ({count},). "
                f"Received: dtype {self.labels.dtype}, shape {self.labels.shape}."
            )
        if self.photo_ids is not None and (
            self.photo_ids.shape != (count,) or self.photo_ids.dtype != np.int64
        ):
            raise InvalidInputError(
                f"LabelledImages.photo_ids must be None or an int64 array of shape ({count},). "
                f"Received: dtype {self.photo_ids.dtype}, shape {self.photo_ids.shape}."
            )

    def __len__(self):
        return len(self.images)

    @property
    def num_classes(self):
        """The number of names, which is also one more than the largest label."""
        return len(self.names)


def select(images, mask):
    """Select a subset of a labelled image set.

    Args:
        images: the `LabelledImages` to select from.
        mask: a boolean array of shape (N,), or an array of integer indices.

    Returns:
        A new `LabelledImages` with the selected images, labels and photo ids.
        `names` and `source` are kept, so the labels keep their meaning.

    Raises:
        InvalidInputError: when a boolean mask does not have one entry per image.
    """
    mask = np.asarray(mask)
    if mask.dtype == bool and mask.shape != (len(images),):
        raise InvalidInputError(
            f"A boolean mask must have shape ({len(images)},), one entry per image. "
            f"Received: shape {mask.shape}."
        )

    photo_ids = None if images.photo_ids is None else images.photo_ids[mask]
    return LabelledImages(
        images=images.images[mask],
        labels=images.labels[mask],
        names=list(images.names),
        source=images.source,
        photo_ids=photo_ids,
    )
