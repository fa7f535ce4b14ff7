"""Atomic file writes: a crash leaves either the old file or the new one.

Each writer writes a temporary file in the destination folder, flushes it
to disk, then renames it over the destination with `os.replace`, which is
atomic on POSIX and Windows when both paths are on one file system.
"""

import contextlib
import json
import os
import pathlib
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`, moved over `path` on success.

    Use it for writers that want a file name, such as `model.save` or
    `matplotlib.pyplot.savefig`. The temporary file is removed on error.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(handle)

    # mkstemp creates the file readable by its owner only; give it the
    # permissions a plain open() would, under the process umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        yield pathlib.Path(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_bytes(path, data):
    """Write `data` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_json(path, value):
    """Write `value` as indented JSON to `path` atomically."""
    text = json.dumps(value, indent=2, sort_keys=True, default=_to_json) + "\n"
    write_bytes(path, text.encode("utf-8"))


def _to_json(value):
    """Convert numpy scalars and arrays, which `json` rejects, to Python."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, pathlib.Path):
        return str(value)
    raise TypeError(f"Cannot write a {type(value).__name__} to JSON: {value!r}")
