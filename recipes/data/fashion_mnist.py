"""Fashion-MNIST from its four IDX files.

An IDX file, the format of MNIST and Fashion-MNIST, is a big-endian header
(an int32 magic number, then one int32 per dimension) followed by the uint8
values in row-major order.
"""

import functools
import gzip
import os
import pathlib
import zlib

import numpy as np

from recipes.data import locate
from recipes.data.images import LabelledImages
from zoo.errors import CorruptFileError, InvalidConfigError

CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FOLDER_NAME = "fashion-mnist"
DEFAULT_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
IMAGE_SHAPE = (28, 28)


def load_fashion_mnist(path=None, split="train"):
    """Load one split of Fashion-MNIST.

    The folder is searched as described in `recipes.data.locate`. When no
    folder has the split's two files, they are downloaded into the cache
    from `$ZOO_FASHION_MNIST_URL` (default: the Keras copy on Google Cloud
    Storage). Decoded arrays are kept in memory for the rest of the process.

    Args:
        path: a folder with the `.gz` IDX files, or a data root containing
            `fashion-mnist/`. When given, no other place is searched and
            nothing is downloaded. None searches the default places.
        split: `"train"` (60,000 images) or `"test"` (10,000 images).

    Returns:
        `LabelledImages` with images of shape (N, 28, 28, 1) in [0, 1],
        labels 0..9 and the 10 class names.

    Raises:
        InvalidConfigError: for an unknown split.
        DataNotFoundError: when no place has the files and the download fails.
        CorruptFileError: when a file is truncated or not a valid IDX file.
    """
    if split not in FILES:
        raise InvalidConfigError(
            f"split must be one of {sorted(FILES)}. Received: {split!r}."
        )

    folder = _find_or_download(path, FILES[split])
    images_path, labels_path = (folder / name for name in FILES[split])
    images, labels = _read_split(*_file_key(images_path), *_file_key(labels_path))
    return LabelledImages(
        images=np.divide(images, np.float32(255), dtype=np.float32)[..., None],
        labels=labels.astype(np.int64),
        names=list(CLASS_NAMES),
        source=str(folder),
    )


def _find_or_download(path, file_names):
    places = locate.search_places(FOLDER_NAME, path)
    for place in places:
        if all((place.path / name).is_file() for name in file_names):
            return place.path

    fix = (
        "Pass the folder with the four .gz IDX files as `path`, set $ZOO_DATA_DIR to a folder "
        f"that contains {FOLDER_NAME}/, or install Debian's dataset-fashion-mnist."
    )
    if path is not None:
        raise locate.not_found_error(
            f"Fashion-MNIST ({', '.join(file_names)})", places, fix
        )

    base_url = os.environ.get("ZOO_FASHION_MNIST_URL", DEFAULT_URL)
    folder = locate.download_dir() / FOLDER_NAME
    try:
        for name in file_names:
            if not (folder / name).is_file():
                locate.download_file(base_url.rstrip("/") + "/" + name, folder / name)
    except (CorruptFileError, FileNotFoundError) as error:
        raise locate.not_found_error(
            f"Fashion-MNIST ({', '.join(file_names)})",
            places,
            fix + " To download from a mirror, set $ZOO_FASHION_MNIST_URL to its base URL.",
            cause=error,
        ) from error
    return folder


def _file_key(file_path):
    # The size and modification time are part of the cache key, so a file
    # replaced on disk is read again.
    resolved = pathlib.Path(file_path).resolve()
    stat = resolved.stat()
    return str(resolved), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_split(images_path, images_size, images_mtime, labels_path, labels_size, labels_mtime):
    """Decode and cross-check one split's image and label files.

    Returns read-only uint8 arrays, so that callers sharing the cached
    arrays cannot change them.
    """
    images = read_idx(images_path, IMAGES_MAGIC, num_dims=3)
    labels = read_idx(labels_path, LABELS_MAGIC, num_dims=1)

    if images.shape[1:] != IMAGE_SHAPE:
        raise CorruptFileError(
            f"{images_path}: expected images of {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} pixels, "
            f"found {images.shape[1]}x{images.shape[2]}."
        )
    if len(images) != len(labels):
        raise CorruptFileError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels. "
            "The two files must come from the same split."
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise CorruptFileError(
            f"{labels_path}: expected labels 0..{len(CLASS_NAMES) - 1}, found {labels.max()}."
        )

    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def read_idx(file_path, magic, num_dims):
    """Read a gzip-compressed IDX file of unsigned bytes.

    Args:
        file_path: the `.gz` file.
        magic: the expected magic number (2051 for images, 2049 for labels).
        num_dims: the expected number of dimensions (3 for images, 1 for labels).

    Returns:
        A uint8 array with the dimensions written in the header.

    Raises:
        CorruptFileError: when the file is not valid gzip, is truncated, has
            another magic number, or its length does not match its header.
    """
    try:
        with gzip.open(file_path, "rb") as stream:
            content = stream.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise CorruptFileError(
            f"{file_path} is not a complete gzip file ({error}). "
            "Delete it and download it again."
        ) from error

    header_bytes = 4 * (1 + num_dims)
    if len(content) < header_bytes:
        raise CorruptFileError(
            f"{file_path}: expected an IDX header of {header_bytes} bytes, "
            f"found only {len(content)} bytes."
        )
    header = np.frombuffer(content, dtype=">i4", count=1 + num_dims)
    if header[0] != magic:
        raise CorruptFileError(
            f"{file_path}: expected IDX magic number {magic}, found {header[0]}. "
            "Check that the image and label files are not swapped."
        )

    shape = tuple(int(size) for size in header[1:])
    expected = header_bytes + int(np.prod(shape))
    if len(content) != expected:
        raise CorruptFileError(
            f"{file_path}: the header gives shape {shape}, so expected {expected} bytes, "
            f"found {len(content)}."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_bytes).reshape(shape).copy()
