"""Paired data for the pix2pix recipes: edge maps of Fashion-MNIST, masked faces.

Every function takes and returns float32 NHWC arrays in [0, 1].
"""

import numpy as np
import scipy.ndimage
from PIL import Image

from zoo.errors import InvalidConfigError


def pad_to(images, height, width):
    """Zero-pad images symmetrically to `(height, width)`; the U-Net needs sizes divisible by 2^depth."""
    pad_height = height - images.shape[1]
    pad_width = width - images.shape[2]
    if pad_height < 0 or pad_width < 0:
        raise InvalidConfigError(
            f"Cannot pad images of size {images.shape[1:3]} to the smaller size "
            f"{(height, width)}. Choose a size at least as large as the images."
        )
    return np.pad(
        images,
        (
            (0, 0),
            (pad_height // 2, pad_height - pad_height // 2),
            (pad_width // 2, pad_width - pad_width // 2),
            (0, 0),
        ),
    )


def sobel_edges(images, threshold=0.25):
    """Return binary edge maps: the Sobel gradient magnitude above `threshold`.

    Args:
        images: float32 array (N, H, W, 1) in [0, 1].
        threshold: the magnitude, relative to the largest possible Sobel
            magnitude of a [0, 1] image (4 * sqrt(2)), above which a pixel is
            an edge.

    Returns:
        float32 array (N, H, W, 1) of 0.0 and 1.0.
    """
    gray = images[..., 0].astype(np.float64)
    gradient_y = scipy.ndimage.sobel(gray, axis=1, mode="constant")
    gradient_x = scipy.ndimage.sobel(gray, axis=2, mode="constant")
    magnitude = np.hypot(gradient_x, gradient_y) / (4.0 * np.sqrt(2.0))
    return (magnitude > threshold).astype(np.float32)[..., None]


def resize_images(images, height, width):
    """Resize images with bilinear filtering, one channel at a time."""
    resized = np.empty((len(images), height, width, images.shape[-1]), np.float32)
    for index, image in enumerate(images):
        for channel in range(images.shape[-1]):
            picture = Image.fromarray(image[..., channel].astype(np.float32), mode="F")
            resized[index, ..., channel] = np.asarray(
                picture.resize((width, height), Image.Resampling.BILINEAR), np.float32
            )
    return np.clip(resized, 0.0, 1.0)


def mask_region(images, rng, mask_fraction=0.4, fill=0.0):
    """Blank one random square per image, for inpainting.

    Args:
        images: float32 array (N, H, W, C) in [0, 1].
        rng: a `numpy.random.Generator` placing the squares.
        mask_fraction: the square's side as a fraction of the smaller image side.
        fill: the value written into the square.

    Returns:
        `(masked, masks)`: the masked images and float32 masks (N, H, W, 1),
        1.0 inside the square.
    """
    if not 0.0 < mask_fraction < 1.0:
        raise InvalidConfigError(
            f"mask_fraction must be in (0, 1). Received: {mask_fraction!r}"
        )
    count, height, width = images.shape[:3]
    side = max(1, int(round(mask_fraction * min(height, width))))
    masked = images.copy()
    masks = np.zeros((count, height, width, 1), np.float32)
    tops = rng.integers(0, height - side + 1, size=count)
    lefts = rng.integers(0, width - side + 1, size=count)
    for index, (top, left) in enumerate(zip(tops, lefts)):
        masked[index, top : top + side, left : left + side, :] = fill
        masks[index, top : top + side, left : left + side, :] = 1.0
    return masked, masks
