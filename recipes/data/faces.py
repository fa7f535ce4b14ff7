"""The ORL (AT&T) faces, their Olivetti 64x64 version, and identity splits.

Both sets hold the same 40 people with 10 photos each. The recipes train
on some people and test face verification on people never seen in training.
"""

import os
import pathlib
import re
import shutil
import tempfile
import zipfile

import numpy as np

from recipes.data import locate
from recipes.data.images import LabelledImages, select
from zoo.errors import CorruptFileError, DataNotFoundError, InvalidConfigError, InvalidInputError

NUM_PEOPLE = 40
PHOTOS_PER_PERSON = 10
ORL_FOLDER_NAME = "att_faces"
ORL_SHAPE = (112, 92)
ORL_DEFAULT_URL = "https://www.cl.cam.ac.uk/Research/DTG/attarchive/pub/data/att_faces.zip"
OLIVETTI_FILE_NAME = "olivettifaces.mat"
OLIVETTI_SIZE = 64
# The largest pixel value in olivettifaces.mat (its smallest is 0).
# scikit-learn rescales the faces from [0, 242] to [0, 1], so its fallback
# output is multiplied by 242 / 255 to match the values loaded from the file.
OLIVETTI_MAX_PIXEL = 242

# A PGM header: magic number, width, height, maxval, each token possibly
# preceded by whitespace and `#` comments, then one whitespace byte.
_PGM_HEADER = re.compile(
    rb"(P\d)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)\s"
)


def read_pgm(file_path):
    """Read a binary (P5) greyscale PGM file.

    The Netpbm header is `P5`, width, height and maxval as ASCII decimals
    separated by whitespace, where `#` starts a comment up to the line end.
    One whitespace byte follows maxval, then the raster, row by row.

    Args:
        file_path: the `.pgm` file.

    Returns:
        A float32 array of shape (height, width) with values in [0, 1],
        scaled by the file's maxval.

    Raises:
        CorruptFileError: when the file is not a P5 PGM or its pixel data is
            shorter or longer than the header says.
    """
    content = pathlib.Path(file_path).read_bytes()
    match = _PGM_HEADER.match(content)
    if match is None or match.group(1) != b"P5":
        found = content[:2].decode("ascii", errors="replace")
        raise CorruptFileError(
            f"{file_path}: expected a binary greyscale PGM starting with 'P5' and a header "
            f"of width, height and maxval, found {found!r}."
        )

    width, height, maxval = (int(match.group(index)) for index in (2, 3, 4))
    if not 0 < maxval < 65536:
        raise CorruptFileError(f"{file_path}: expected a maxval in 1..65535, found {maxval}.")

    # PGM stores 1 byte per pixel up to maxval 255, else 2 bytes big-endian.
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
    expected = width * height * dtype.itemsize
    pixels = content[match.end():]
    if len(pixels) != expected:
        raise CorruptFileError(
            f"{file_path}: the header gives {width}x{height} pixels, so expected {expected} bytes "
            f"of pixel data, found {len(pixels)}."
        )
    values = np.frombuffer(pixels, dtype=dtype).reshape(height, width)
    return values.astype(np.float32) / maxval


def load_orl(path=None):
    """Load the ORL (AT&T) faces from `att_faces/sN/M.pgm`.

    The folder is searched as described in `recipes.data.locate`. When it is
    nowhere, the AT&T zip archive is downloaded from `$ZOO_ORL_URL` (default:
    the Cambridge archive) and extracted into the cache.

    Args:
        path: the `att_faces` folder or a data root containing it. None
            searches the default places.

    Returns:
        `LabelledImages` with images of shape (400, 112, 92, 1) in [0, 1],
        label N-1 for person sN, names `s1`..`s40` and photo ids 1..10.

    Raises:
        DataNotFoundError: when no place has the folder and the download
            fails, or when a photo is missing from the folder.
        CorruptFileError: when a photo is not a P5 PGM of 92x112 pixels.
    """
    folder = _find_or_download_orl(path)

    images, labels, photo_ids = [], [], []
    for person in range(1, NUM_PEOPLE + 1):
        for photo in range(1, PHOTOS_PER_PERSON + 1):
            file_path = folder / f"s{person}" / f"{photo}.pgm"
            if not file_path.is_file():
                raise DataNotFoundError(
                    f"{file_path} is missing. The ORL folder {folder} must contain "
                    f"s1..s{NUM_PEOPLE}, each with 1.pgm..{PHOTOS_PER_PERSON}.pgm."
                )
            image = read_pgm(file_path)
            if image.shape != ORL_SHAPE:
                raise CorruptFileError(
                    f"{file_path}: expected {ORL_SHAPE[1]}x{ORL_SHAPE[0]} pixels (width x height), "
                    f"found {image.shape[1]}x{image.shape[0]}."
                )
            images.append(image)
            labels.append(person - 1)
            photo_ids.append(photo)

    return LabelledImages(
        images=np.stack(images)[..., None],
        labels=np.array(labels, dtype=np.int64),
        names=[f"s{person}" for person in range(1, NUM_PEOPLE + 1)],
        source=str(folder),
        photo_ids=np.array(photo_ids, dtype=np.int64),
    )


def _find_or_download_orl(path):
    places = locate.search_places(ORL_FOLDER_NAME, path)
    for place in places:
        if (place.path / "s1").is_dir():
            return place.path

    fix = (
        f"Pass the {ORL_FOLDER_NAME} folder (with s1..s{NUM_PEOPLE}) as `path`, or set "
        f"$ZOO_DATA_DIR to a folder that contains {ORL_FOLDER_NAME}/."
    )
    if path is not None:
        raise locate.not_found_error("The ORL faces", places, fix)

    url = os.environ.get("ZOO_ORL_URL", ORL_DEFAULT_URL)
    destination = locate.download_dir() / ORL_FOLDER_NAME
    try:
        _download_orl(url, destination)
    except (CorruptFileError, FileNotFoundError) as error:
        raise locate.not_found_error(
            "The ORL faces",
            places,
            fix + " To download from a mirror, set $ZOO_ORL_URL to the URL of att_faces.zip.",
            cause=error,
        ) from error
    return destination


def _download_orl(url, destination):
    """Download the ORL zip and move its `s1..s40` folders to `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as work_dir:
        work_dir = pathlib.Path(work_dir)
        archive = locate.download_file(url, work_dir / "att_faces.zip")
        extracted = work_dir / "extracted"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(extracted)
        except zipfile.BadZipFile as error:
            raise CorruptFileError(f"{url} is not a valid zip archive: {error}.") from error

        # The archive contains s1..s40 either at its top level or in one folder.
        roots = [folder.parent for folder in extracted.rglob("s1") if folder.is_dir()]
        if not roots:
            raise CorruptFileError(f"{url}: expected an archive with folders s1..s40, found none.")

        # Renaming the complete folder into place keeps a half-extracted
        # archive from ever appearing under the final name.
        shutil.rmtree(destination, ignore_errors=True)
        roots[0].rename(destination)


def load_olivetti(path=None):
    """Load the Olivetti faces, the ORL photos cropped and scaled to 64x64.

    Reads `olivettifaces.mat` from the places described in
    `recipes.data.locate`. When no file is found, it falls back to
    scikit-learn's `fetch_olivetti_faces`, which downloads into the cache.

    Args:
        path: the `.mat` file or a data root containing `olivettifaces.mat`.
            None searches the default places.

    Returns:
        `LabelledImages` with images of shape (400, 64, 64, 1) in [0, 1],
        labels `index // 10`, names `s1`..`s40` and photo ids `index % 10 + 1`.

    Raises:
        DataNotFoundError: when no file is found and the fallback fails.
        CorruptFileError: when the file has no `faces` matrix of 4096 x 400.
    """
    places = locate.search_places(OLIVETTI_FILE_NAME, path)
    found = next((place.path for place in places if place.path.is_file()), None)

    if found is not None:
        images = _read_olivetti_mat(found)
        source = str(found)
    elif path is not None:
        raise locate.not_found_error(
            "The Olivetti faces",
            places,
            f"Pass the path of {OLIVETTI_FILE_NAME} as `path`.",
        )
    else:
        images, source = _fetch_olivetti_with_sklearn(places)

    count = NUM_PEOPLE * PHOTOS_PER_PERSON
    index = np.arange(count, dtype=np.int64)
    return LabelledImages(
        images=images[..., None],
        labels=index // PHOTOS_PER_PERSON,
        names=[f"s{person}" for person in range(1, NUM_PEOPLE + 1)],
        source=source,
        photo_ids=index % PHOTOS_PER_PERSON + 1,
    )


def _read_olivetti_mat(file_path):
    import scipy.io

    try:
        faces = scipy.io.loadmat(file_path).get("faces")
    except (ValueError, OSError) as error:
        raise CorruptFileError(f"{file_path} is not a readable MATLAB file: {error}.") from error

    expected = (OLIVETTI_SIZE * OLIVETTI_SIZE, NUM_PEOPLE * PHOTOS_PER_PERSON)
    if faces is None or faces.shape != expected:
        found = "no 'faces' variable" if faces is None else f"shape {faces.shape}"
        raise CorruptFileError(f"{file_path}: expected a 'faces' matrix of shape {expected}, found {found}.")

    # Each column is one image stored column-major (MATLAB order), so the
    # Fortran-order reshape gives upright faces.
    images = faces.T.reshape(-1, OLIVETTI_SIZE, OLIVETTI_SIZE).transpose(0, 2, 1)
    return images.astype(np.float32) / 255.0


def _fetch_olivetti_with_sklearn(places):
    from sklearn.datasets import fetch_olivetti_faces

    data_home = locate.download_dir()
    try:
        bunch = fetch_olivetti_faces(data_home=str(data_home), shuffle=False)
    except OSError as error:
        raise locate.not_found_error(
            "The Olivetti faces",
            places,
            f"Pass the path of {OLIVETTI_FILE_NAME} as `path`, or set $ZOO_DATA_DIR to a folder "
            "that contains it.",
            cause=f"scikit-learn's fetch_olivetti_faces: {error}",
        ) from error

    images = bunch.images.astype(np.float32) * (OLIVETTI_MAX_PIXEL / 255.0)
    return images, f"sklearn.datasets.fetch_olivetti_faces (data_home={data_home})"


def split_orl_identities(faces, train_people=30, enrol_photos=3):
    """Split a face set by person for open-set face verification.

    Args:
        faces: `LabelledImages` with `photo_ids`, such as `load_orl()` or
            `load_olivetti()`.
        train_people: people with labels below this train the model.
        enrol_photos: photos 1..enrol_photos of each person are enrolled.

    Returns:
        A dict of `LabelledImages`:
        `train`: every photo of the first `train_people` people;
        `held_out`: every photo of the other people;
        `enrol`: photos 1..enrol_photos of every person;
        `probes`: the remaining photos of the held-out people.

    Raises:
        InvalidInputError: when `faces` has no photo ids.
        InvalidConfigError: when `train_people` leaves no held-out person, or
            `enrol_photos` leaves no probe photo.
    """
    if faces.photo_ids is None:
        raise InvalidInputError(
            "split_orl_identities needs photo ids. Received a set without them "
            f"(source {faces.source}). Use load_orl() or load_olivetti()."
        )
    if not 0 < train_people < faces.num_classes:
        raise InvalidConfigError(
            f"train_people must be in 1..{faces.num_classes - 1} so that both splits have people. "
            f"Received: {train_people}."
        )
    if not 0 < enrol_photos < faces.photo_ids.max():
        raise InvalidConfigError(
            f"enrol_photos must be in 1..{faces.photo_ids.max() - 1} so that probes remain. "
            f"Received: {enrol_photos}."
        )

    in_train = faces.labels < train_people
    enrolled = faces.photo_ids <= enrol_photos
    return {
        "train": select(faces, in_train),
        "held_out": select(faces, ~in_train),
        "enrol": select(faces, enrolled),
        "probes": select(faces, ~in_train & ~enrolled),
    }
