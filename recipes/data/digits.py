"""scikit-learn's bundled 8x8 handwritten digits, which need no download."""

import numpy as np

from recipes.data.images import LabelledImages

# The digits' pixel values are counts of set pixels in 4x4 blocks, 0..16.
DIGITS_MAX_PIXEL = 16.0


def load_digits():
    """Load scikit-learn's 8x8 digits (1,797 images, 10 classes), offline.

    Returns:
        `LabelledImages` with images of shape (1797, 8, 8, 1) in [0, 1],
        labels 0..9 and names `"0"`..`"9"`.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return LabelledImages(
        images=(bunch.images.astype(np.float32) / DIGITS_MAX_PIXEL)[..., None],
        labels=bunch.target.astype(np.int64),
        names=[str(digit) for digit in range(10)],
        source="sklearn.datasets.load_digits",
    )
