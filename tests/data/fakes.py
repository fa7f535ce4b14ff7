"""Tiny synthetic data set files for the loader and download tests."""

import gzip
import pathlib
import struct

import numpy as np

from recipes.data.fashion_mnist import FILES


def idx_bytes(array, magic):
    """Encode a uint8 array as an uncompressed IDX file."""
    header = struct.pack(">i", magic) + b"".join(struct.pack(">i", size) for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_fashion(folder, count=6, splits=("train", "test"), seed=0):
    """Write gzip IDX files of `count` random 28x28 images per split.

    Returns:
        A dict split -> (images uint8 (count, 28, 28), labels uint8 (count,)).
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split in splits:
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        images_name, labels_name = FILES[split]
        (folder / images_name).write_bytes(gzip.compress(idx_bytes(images, 2051)))
        (folder / labels_name).write_bytes(gzip.compress(idx_bytes(labels, 2049)))
        written[split] = (images, labels)
    return written


def pgm_bytes(pixels, comment=True):
    """Encode a uint8 array of shape (height, width) as a binary P5 PGM."""
    height, width = pixels.shape
    header = b"P5\n" + (b"# written by the tests\n" if comment else b"")
    header += f"{width} {height}\n255\n".encode("ascii")
    return header + pixels.astype(np.uint8).tobytes()


def write_orl(folder, shape=(112, 92)):
    """Write a fake ORL folder of 40 people x 10 photos.

    Photo M of person sN is filled with the value N + M, so each file's
    content is known.
    """
    folder = pathlib.Path(folder)
    for person in range(1, 41):
        (folder / f"s{person}").mkdir(parents=True, exist_ok=True)
        for photo in range(1, 11):
            pixels = np.full(shape, person + photo, dtype=np.uint8)
            (folder / f"s{person}" / f"{photo}.pgm").write_bytes(pgm_bytes(pixels))
    return folder
