"""Seeded numpy image augmentation for training batches."""

import dataclasses

import numpy as np

from zoo.errors import InvalidConfigError, InvalidInputError


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Strengths of the random changes that `augment` applies. Zero turns a change off.

    Attributes:
        max_shift: the largest shift in pixels along each axis. The image
            is padded by this many pixels with reflection, then cropped back
            at a random offset.
        flip_probability: the probability of a horizontal flip, in [0, 1].
        brightness: the largest value added to or subtracted from every
            pixel of an image, in [0, 1].
        contrast: the largest relative change of the contrast around the
            image mean. The factor is drawn from [1 - contrast, 1 + contrast].
    """

    max_shift: int = 0
    flip_probability: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    def __post_init__(self):
        if int(self.max_shift) != self.max_shift or self.max_shift < 0:
            raise InvalidConfigError(
                f"max_shift must be a non-negative integer. Received: {self.max_shift}."
            )
        if not 0.0 <= self.flip_probability <= 1.0:
            raise InvalidConfigError(
                f"flip_probability must be in [0, 1]. Received: {self.flip_probability}."
            )
        if not 0.0 <= self.brightness <= 1.0:
            raise InvalidConfigError(f"brightness must be in [0, 1]. Received: {self.brightness}.")
        if not 0.0 <= self.contrast <= 1.0:
            raise InvalidConfigError(f"contrast must be in [0, 1]. Received: {self.contrast}.")


def augment(images, rng, config):
    """Apply random shifts, flips, brightness and contrast changes.

    Args:
        images: float32 array of shape (N, H, W, C) with values in [0, 1].
        rng: the `numpy.random.Generator` that draws every random choice, so
            the same generator state gives the same output.
        config: an `AugmentConfig`.

    Returns:
        A new float32 array of the same shape, clipped to [0, 1].

    Raises:
        InvalidInputError: when `images` is not 4-D, or `max_shift` is not
            smaller than the image height and width (reflection needs it).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise InvalidInputError(
            f"augment expects images of shape (N, H, W, C). Received: shape {images.shape}."
        )
    count, height, width, _ = images.shape
    shift = int(config.max_shift)
    if shift >= min(height, width):
        raise InvalidInputError(
            f"max_shift must be smaller than the image height and width ({height}x{width}). "
            f"Received: {shift}."
        )

    output = images.copy()
    if shift > 0:
        padded = np.pad(output, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="reflect")
        offsets = rng.integers(0, 2 * shift + 1, size=(count, 2))
        for index, (top, left) in enumerate(offsets):
            output[index] = padded[index, top:top + height, left:left + width]

    if config.flip_probability > 0:
        flipped = rng.random(count) < config.flip_probability
        output[flipped] = output[flipped, :, ::-1]

    if config.contrast > 0:
        factors = rng.uniform(1 - config.contrast, 1 + config.contrast, size=(count, 1, 1, 1))
        means = output.mean(axis=(1, 2, 3), keepdims=True)
        output = (output - means) * factors.astype(np.float32) + means

    if config.brightness > 0:
        deltas = rng.uniform(-config.brightness, config.brightness, size=(count, 1, 1, 1))
        output = output + deltas.astype(np.float32)

    return np.clip(output, 0.0, 1.0).astype(np.float32, copy=False)
