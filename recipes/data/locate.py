"""Lookup of the data set files, and download of the missing ones.

Every file-based loader searches, in this order:

1. the `path` argument of the loader,
2. the folder in `$ZOO_DATA_DIR`,
3. `../shared/data` beside the checkout,
4. `/usr/share/datasets` (where Debian's `dataset-fashion-mnist` installs),
5. the download cache `$ZOO_HOME/datasets` (default `~/.cache/beyond-zoo/datasets`),

and downloads into the cache when none of them has the data.
"""

import contextlib
import dataclasses
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request

from zoo.errors import CorruptFileError, DataNotFoundError

SYSTEM_DATA_DIR = pathlib.Path("/usr/share/datasets")

# Progress is printed only for downloads larger than this, in bytes.
PROGRESS_MIN_BYTES = 1 << 20
CHUNK_BYTES = 1 << 16
DOWNLOAD_TIMEOUT_S = 60


@dataclasses.dataclass(frozen=True)
class Place:
    """A place searched for a data set.

    Attributes:
        description: where the place comes from, for error messages.
        path: the file or folder expected there.
    """

    description: str
    path: pathlib.Path


def zoo_home():
    """Return the zoo's cache folder: `$ZOO_HOME`, else `~/.cache/beyond-zoo`."""
    if os.environ.get("ZOO_HOME"):
        return pathlib.Path(os.environ["ZOO_HOME"]).expanduser()
    return pathlib.Path.home() / ".cache" / "beyond-zoo"


def download_dir():
    """Return the folder that downloaded data sets are cached in."""
    return zoo_home() / "datasets"


def shared_data_dir():
    """Return `../shared/data` beside the checkout that contains `recipes`."""
    import recipes

    return pathlib.Path(recipes.__file__).resolve().parents[1].parent / "shared" / "data"


def search_places(name, path=None):
    """List the places where a data set is searched, in lookup order.

    Args:
        name: the file or folder name of the data set inside a data root,
            for example `"fashion-mnist"` or `"olivettifaces.mat"`.
        path: the loader's `path` argument, or None. When given, it is the
            only place searched: either the data set itself or a data root
            that contains `name`.

    Returns:
        A list of `Place`, the download cache last.
    """
    if path is not None:
        path = pathlib.Path(path).expanduser()
        return [
            Place("the path argument", path),
            Place("the path argument", path / name),
        ]

    places = []
    if os.environ.get("ZOO_DATA_DIR"):
        places.append(Place("$ZOO_DATA_DIR", pathlib.Path(os.environ["ZOO_DATA_DIR"]) / name))
    places.append(Place("../shared/data beside the checkout", shared_data_dir() / name))
    places.append(Place("the system data sets folder", SYSTEM_DATA_DIR / name))
    places.append(Place("the download cache ($ZOO_HOME/datasets)", download_dir() / name))
    return places


def describe_places(places):
    """Format the searched places as indented lines for an error message."""
    return "\n".join(f"  - {place.path} ({place.description})" for place in places)


def not_found_error(dataset, places, fix, cause=None):
    """Build the `DataNotFoundError` raised when a data set is nowhere.

    Args:
        dataset: the data set's name in the message.
        places: the `Place`s searched.
        fix: sentences that tell the user how to make the data available.
        cause: the download error, or None when no download was tried.

    Returns:
        The `DataNotFoundError`, for the caller to raise.
    """
    message = f"{dataset} was not found. Searched:\n{describe_places(places)}\n"
    if cause is not None:
        message += f"The download failed: {cause}\n"
    message += fix
    return DataNotFoundError(message)


def download_file(url, destination):
    """Download a URL to a file atomically.

    The bytes go to a temporary file in the destination's folder, which is
    renamed onto `destination` only when the whole body has arrived, so an
    interrupted download never leaves a partial file under the final name.
    A progress line is written to stderr for downloads larger than 1 MiB.

    Args:
        url: the URL to fetch.
        destination: the file path to write.

    Returns:
        `destination` as a `pathlib.Path`.

    Raises:
        DataNotFoundError: on an HTTP error or when the server is unreachable.
        CorruptFileError: when the connection closes before the number of
            bytes given by the Content-Length header arrived.
    """
    destination = pathlib.Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)

    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        raise DataNotFoundError(
            f"Downloading {url} failed with HTTP {error.code} {error.reason}."
        ) from error
    except (urllib.error.URLError, OSError) as error:
        raise DataNotFoundError(f"Downloading {url} failed: {error}.") from error

    with response, _temporary_file(destination) as (stream, temporary_path):
        expected = response.headers.get("Content-Length")
        expected = int(expected) if expected is not None else None
        received = _copy_with_progress(response, stream, url, expected)
        if expected is not None and received != expected:
            raise CorruptFileError(
                f"Downloading {url} was truncated: expected {expected} bytes, "
                f"received {received}. Try again, or download the file by hand to {destination}."
            )
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()
        os.replace(temporary_path, destination)
    return destination


def _copy_with_progress(response, stream, url, expected):
    show_progress = expected is not None and expected >= PROGRESS_MIN_BYTES
    received = 0
    last_percent = -10
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (OSError, ValueError) as error:
            # http.client raises IncompleteRead (a ValueError subclass) on
            # some truncated responses and returns a short read on others.
            raise CorruptFileError(
                f"Downloading {url} was interrupted after {received} bytes: {error}."
            ) from error
        if not chunk:
            break
        stream.write(chunk)
        received += len(chunk)

        percent = 100 * received // expected if show_progress else 0
        if show_progress and percent >= last_percent + 10:
            last_percent = percent
            print(
                f"Downloading {url}: {percent}% of {expected / 2**20:.1f} MiB",
                file=sys.stderr,
                flush=True,
            )
    return received


@contextlib.contextmanager
def _temporary_file(destination):
    """Open a temporary file beside `destination`, removed unless renamed."""
    handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    temporary_path = pathlib.Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream, temporary_path
    finally:
        temporary_path.unlink(missing_ok=True)
