"""Pretrained artifacts by name: the manifest, the download cache and `load`.

A manifest (`artifacts/manifest.json` in a checkout, or the URL in
`$ZOO_MANIFEST_URL`) lists the released artifacts:

    {"schema_version": 1, "artifacts": [{
        "name": "face-embedder-orl", "task": "embedder", "description": "...",
        "files": [{"path": "face-embedder-orl/embedder.onnx", "sha256": "...", "size": 123,
                   "quantize": null},
                  {"path": "face-embedder-orl/embedder.int8.onnx", "sha256": "...", "size": 45,
                   "quantize": "int8"}],
        "inputs": [{"name": "images", "shape": [null, 112, 92, 1], "dtype": "float32"}],
        "outputs": [...], "metrics": {...}, "license": "apache-2.0",
        "model_card": "model_cards/face-embedder-orl.md", "url": "https://host/base/"}]}

Each file is fetched from `url + path`, where `url` is an http(s) URL, a
`file://` URL or a folder, absolute or relative to the manifest, and
defaults to the manifest's own folder. `pull` stores the files under
`$ZOO_HOME/artifacts/<name>/` (default `~/.cache/beyond-zoo`) and checks the
size and SHA-256 of each one. Only the standard library is used for HTTP.

Each file belongs to one variant, named by its `quantize`: `null` (or no
key) for the float32 files, or the quantization of a copy made by
`zoo release --quantize`, such as `"int8"`. `pull` fetches the float32
variant unless a caller requests another one.
"""

import dataclasses
import hashlib
import http.client
import json
import logging
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from serving.errors import CorruptFileError, InvalidInputError, InvalidModelError, ServingError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
HOME_ENV = "ZOO_HOME"
MANIFEST_ENV = "ZOO_MANIFEST_URL"
DEFAULT_HOME = pathlib.Path("~/.cache/beyond-zoo")
MANIFEST_FILE = "manifest.json"
PART_SUFFIX = ".part"

# The manifest shipped with a checkout: <repo>/artifacts/manifest.json.
PACKAGED_MANIFEST = pathlib.Path(__file__).resolve().parents[1] / "artifacts" / MANIFEST_FILE

# Letters, digits, '.', '_' and '-', starting with a letter or digit: no path separators.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_CHUNK_BYTES = 1 << 16
_USER_AGENT = "beyond-zoo-hub/1"


class ManifestError(ServingError, ValueError):
    """The manifest is missing, unreadable or does not follow the schema."""


class UnknownArtifactError(ServingError, LookupError):
    """The requested name is not an artifact of the manifest."""


class DownloadError(ServingError, OSError):
    """A file could not be fetched from its URL or mirror, after every retry."""


class ChecksumMismatchError(CorruptFileError):
    """A fetched file's size or SHA-256 differs from the manifest."""


class UnknownVariantError(ServingError, LookupError):
    """The requested quantized variant is not among an artifact's files."""


@dataclasses.dataclass(frozen=True)
class ArtifactFile:
    """One file of an artifact.

    Attributes:
        path: the file's path below the artifact's base URL, POSIX style,
            for example `"face-embedder-orl/model.onnx"`.
        sha256: lower-case hex SHA-256 of the file's bytes.
        size: the file's size in bytes.
        quantize: `None` for a float32 file, else the quantization of a
            copy, for example `"int8"`.
    """

    path: str
    sha256: str
    size: int
    quantize: str | None = None


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One manifest entry.

    Attributes:
        name: the name passed to `pull` and `load`.
        task: the `zoo_task` of its model (embedder, encoder, decoder, ...),
            or `autoencoder` for an artifact with an encoder and a decoder
            part.
        part_tasks: part name -> `zoo_task` (the `part_role` of a StyleGAN
            mapping or synthesis part) for an artifact with several parts,
            for example `{"encoder": "encoder", "decoder": "decoder"}`.
        description: one line for `zoo pull --list`.
        files: the `ArtifactFile`s of every variant. In each variant, the
            first `.onnx` file is the model.
        inputs, outputs: `{"name", "shape", "dtype"}` dicts of the model.
        metrics: the headline metrics, a dict of numbers (possibly nested).
        license: an SPDX-style license id.
        model_card: the card's path relative to the repository root.
        base_url: the resolved base (URL or folder) the file paths join to.
    """

    name: str
    task: str
    description: str
    files: tuple
    inputs: tuple
    outputs: tuple
    metrics: dict
    license: str
    model_card: str
    base_url: str
    part_tasks: dict = dataclasses.field(default_factory=dict)

    @property
    def size(self):
        """Total size of the float32 files in bytes, which `pull` fetches by default."""
        return sum(file.size for file in self.files if file.quantize is None)

    @property
    def variants(self):
        """Return the distinct `quantize` values of the files in manifest order (`None` is float32)."""
        return tuple(dict.fromkeys(file.quantize for file in self.files))

    def variant_files(self, quantize=None):
        """Return the files of one variant.

        Args:
            quantize: `None` or `"float32"` for the float32 files, else a
                quantization such as `"int8"`.

        Raises:
            UnknownVariantError: no file has this `quantize`.
        """
        if quantize == "float32":
            quantize = None
        files = tuple(file for file in self.files if file.quantize == quantize)
        if not files:
            available = ", ".join(describe_variant(variant) for variant in self.variants)
            requested = describe_variant(quantize)
            raise UnknownVariantError(
                f"The artifact '{self.name}' has no {requested} files. Available variants: {available}. "
                "Pass one of them as quantize (`zoo pull NAME --quantize VARIANT`), or none for float32."
            )
        return files

    def model_file_of(self, quantize=None):
        """Return the file `pull` returns for a variant: its first `.onnx` file, else its first file."""
        files = self.variant_files(quantize)
        for file in files:
            if file.path.endswith(".onnx"):
                return file
        return files[0]

    @property
    def model_file(self):
        """The model file of the float32 variant."""
        return self.model_file_of(None)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A parsed manifest.

    Attributes:
        source: where it was read from (a path or URL).
        artifacts: name -> `Artifact`, in manifest order.
    """

    source: str
    artifacts: dict

    def get(self, name):
        """Return the artifact called `name`.

        Raises:
            InvalidInputError: `name` contains a path separator or `..`.
            UnknownArtifactError: no artifact has this name.
        """
        check_artifact_name(name)
        if name not in self.artifacts:
            known = ", ".join(self.artifacts) or "none (the manifest is empty)"
            raise UnknownArtifactError(
                f"No artifact named '{name}' in the manifest {self.source}. Known names: {known}."
            )
        return self.artifacts[name]


def describe_variant(quantize):
    """Return the name of a variant for messages: `"float32"` for `None`, else `quantize`."""
    return "float32" if quantize is None else quantize


def check_artifact_name(name):
    """Raise InvalidInputError unless `name` is a plain artifact name.

    A name becomes a folder of the cache, so separators, `..` and a leading
    dot are rejected to keep every write inside `$ZOO_HOME/artifacts/`.
    """
    if not isinstance(name, str) or not _NAME_PATTERN.match(name) or ".." in name:
        raise InvalidInputError(
            "An artifact name must contain only letters, digits, '.', '_' and '-', start with "
            f"a letter or digit and contain no '..'. Received: {name!r}"
        )


def cache_home(cache_dir=None):
    """Return the cache root: `cache_dir`, else `$ZOO_HOME`, else `~/.cache/beyond-zoo`."""
    if cache_dir is None:
        cache_dir = os.environ.get(HOME_ENV) or DEFAULT_HOME
    return pathlib.Path(cache_dir).expanduser()


def artifact_dir(name, cache_dir=None):
    """Return the cache folder of an artifact, `<cache root>/artifacts/<name>/`."""
    check_artifact_name(name)
    return cache_home(cache_dir) / "artifacts" / name


def default_manifest_location():
    """Return the packaged `artifacts/manifest.json` when present, else `$ZOO_MANIFEST_URL`.

    Raises:
        ManifestError: neither exists.
    """
    if PACKAGED_MANIFEST.is_file():
        return str(PACKAGED_MANIFEST)
    if os.environ.get(MANIFEST_ENV):
        return os.environ[MANIFEST_ENV]
    raise ManifestError(
        f"No artifact manifest: {PACKAGED_MANIFEST} does not exist and ${MANIFEST_ENV} is not "
        "set. Set it to the manifest's URL or path, or pass the manifest explicitly."
    )


def _is_url(location):
    # A one-letter scheme is a Windows drive ("C:\..."), not a URL.
    scheme = urllib.parse.urlsplit(str(location)).scheme
    return len(scheme) > 1


def _is_http(location):
    return urllib.parse.urlsplit(str(location)).scheme in ("http", "https")


def _local_path(location):
    """Return the local path of a folder, file path or `file://` URL."""
    location = str(location)
    if location.startswith("file:"):
        return pathlib.Path(urllib.request.url2pathname(urllib.parse.urlsplit(location).path))
    return pathlib.Path(location).expanduser()


def _join(base, relative):
    """Join a POSIX relative path to a base URL or folder."""
    if _is_http(base):
        return urllib.parse.urljoin(base if base.endswith("/") else base + "/", urllib.parse.quote(relative))
    if _is_url(base) and not str(base).startswith("file:"):
        raise ManifestError(
            f"Unsupported URL scheme in {base!r}: expected http, https, file or a folder path."
        )
    return str(_local_path(base).joinpath(*relative.split("/")))


def _parent(location):
    """Return the folder (or URL folder) that contains a manifest."""
    if _is_http(location):
        return urllib.parse.urljoin(location, ".")
    return str(_local_path(location).resolve().parent)


def _manifest_cache_path(url, cache_dir):
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return cache_home(cache_dir) / "manifests" / f"{digest}.json"


def _read_manifest_text(location, cache_dir, timeout):
    if not _is_http(location):
        path = _local_path(location)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise ManifestError(
                f"Manifest not found: {path}. Pass the path or URL of a manifest.json."
            ) from error

    # A remote manifest is kept in the cache, so that later runs work offline.
    cached = _manifest_cache_path(location, cache_dir)
    try:
        request = urllib.request.Request(location, headers={"User-Agent": _USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8")
    except (OSError, http.client.HTTPException) as error:
        if cached.is_file():
            logger.warning("Could not fetch the manifest %s (%s); using the cached copy %s.", location, error, cached)
            return cached.read_text(encoding="utf-8")
        raise ManifestError(
            f"Could not fetch the manifest {location}: {error}. Check the URL and the "
            "network, or set $ZOO_MANIFEST_URL to a local manifest.json."
        ) from error
    _atomic_write_text(cached, text)
    return text


def read_manifest(path_or_url=None, cache_dir=None, timeout=30.0):
    """Read and validate a manifest.

    Args:
        path_or_url: a path, `file://` URL or http(s) URL of a manifest.json.
            Default: `default_manifest_location()`.
        cache_dir: cache root for a copy of a remote manifest. Default:
            `$ZOO_HOME`, else `~/.cache/beyond-zoo`.
        timeout: seconds to wait for a remote manifest.

    Returns:
        A `Manifest`.

    Raises:
        ManifestError: the manifest cannot be read or breaks the schema.
    """
    location = str(path_or_url) if path_or_url is not None else default_manifest_location()
    text = _read_manifest_text(location, cache_dir, timeout)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"The manifest {location} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ManifestError(f"The manifest {location} must be a JSON object. Received a {type(document).__name__}.")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ManifestError(
            f"The manifest {location} has schema_version {document.get('schema_version')!r}; "
            f"this version of beyond-zoo reads schema_version {SCHEMA_VERSION}. Update beyond-zoo."
        )
    entries = document.get("artifacts")
    if not isinstance(entries, list):
        raise ManifestError(f"The manifest {location} must have an 'artifacts' list.")

    artifacts = {}
    for index, entry in enumerate(entries):
        artifact = _parse_artifact(entry, index, location)
        if artifact.name in artifacts:
            raise ManifestError(f"The manifest {location} lists the artifact '{artifact.name}' twice.")
        artifacts[artifact.name] = artifact
    return Manifest(source=location, artifacts=artifacts)


def _parse_artifact(entry, index, location):
    where = f"artifacts[{index}] of the manifest {location}"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} must be an object.")
    for key in ("name", "task", "files"):
        if key not in entry:
            raise ManifestError(f"{where} has no '{key}'. Required keys: name, task, files.")
    try:
        check_artifact_name(entry["name"])
    except InvalidInputError as error:
        raise ManifestError(f"{where}: {error}") from error

    files = entry["files"]
    if not isinstance(files, list) or not files:
        raise ManifestError(f"{where} must list at least one file.")
    parsed = tuple(_parse_file(item, f"{where}, files[{number}]") for number, item in enumerate(files))

    # The base is the entry's url, resolved against the manifest's folder.
    url = entry.get("url") or ""
    manifest_folder = _parent(location)
    if not url:
        base = manifest_folder
    elif _is_url(url) or pathlib.Path(url).expanduser().is_absolute():
        base = url
    elif _is_http(manifest_folder):
        base = urllib.parse.urljoin(manifest_folder, url)
    else:
        base = str(pathlib.Path(manifest_folder) / url)

    return Artifact(
        name=entry["name"],
        task=str(entry["task"]),
        description=str(entry.get("description", "")),
        files=parsed,
        inputs=tuple(entry.get("inputs", ())),
        outputs=tuple(entry.get("outputs", ())),
        metrics=dict(entry.get("metrics", {})),
        license=str(entry.get("license", "")),
        model_card=str(entry.get("model_card", "")),
        base_url=base,
        part_tasks={str(part): str(task) for part, task in dict(entry.get("part_tasks") or {}).items()},
    )


def _parse_file(item, where):
    if not isinstance(item, dict) or not {"path", "sha256", "size"} <= set(item):
        raise ManifestError(f"{where} must be an object with 'path', 'sha256' and 'size'.")
    path, sha256, size = item["path"], str(item["sha256"]).lower(), item["size"]
    quantize = item.get("quantize")
    if quantize is not None and (not isinstance(quantize, str) or not quantize or quantize == "float32"):
        raise ManifestError(
            f"{where} has quantize {quantize!r}. Expected null for a float32 file, or a quantization "
            "name such as \"int8\"."
        )
    parts = str(path).split("/")
    if not path or "\\" in path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ManifestError(f"{where} has path {path!r}; expected a relative POSIX path without '..'.")
    if not _SHA256_PATTERN.match(sha256):
        raise ManifestError(f"{where} has sha256 {item['sha256']!r}; expected 64 hex digits.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where} has size {size!r}; expected a non-negative integer of bytes.")
    return ArtifactFile(path=path, sha256=sha256, size=size, quantize=quantize)


def _cache_relative(artifact, file):
    """Return the file's path inside the artifact's cache folder (`<name>/` removed)."""
    prefix = artifact.name + "/"
    return file.path[len(prefix):] if file.path.startswith(prefix) else file.path


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_verified(path, file):
    return path.is_file() and path.stat().st_size == file.size and _sha256(path) == file.sha256


def _fsync_folder(folder):
    # Makes the rename durable on POSIX; Windows cannot open a folder for this.
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _atomic_write_text(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


class _Progress:
    """A one-line progress display on stderr, redrawn at most 10 times a second."""

    def __init__(self, label, total, enabled):
        self.label = label
        self.total = total
        self.enabled = enabled
        self.last_draw = 0.0

    def update(self, done, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        percent = 100.0 * done / self.total if self.total else 100.0
        sys.stderr.write(
            f"\r{self.label}  {percent:5.1f}%  {done / 1e6:.2f}/{self.total / 1e6:.2f} MB"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


class _RetryableError(Exception):
    """A transfer failure that a later attempt may overcome."""


def _open_source(url, offset, timeout):
    """Open `url` at byte `offset`.

    Returns:
        `(stream, start, total)`: a readable binary stream, the offset it
        starts at (0 when an HTTP server ignores the Range header) and the
        source's total size in bytes (None when the server does not say).
    """
    if not _is_http(url):
        path = _local_path(url)
        try:
            stream = open(path, "rb")
        except (FileNotFoundError, NotADirectoryError) as error:
            raise DownloadError(
                f"{path} not found. Check that the mirror is the folder that contains the artifact "
                "folders, or the manifest's url."
            ) from error
        except OSError as error:
            raise DownloadError(f"Reading {path} failed: {error.strerror}. Check the mirror folder or the manifest's url.") from error
        total = os.fstat(stream.fileno()).st_size
        start = min(offset, total)
        stream.seek(start)
        return stream, start, total

    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416:
            # The partial file is at least as long as the source: start again.
            raise _RetryableError(f"HTTP 416 for the range from byte {offset}") from error
        if error.code in (408, 429) or error.code >= 500:
            raise _RetryableError(f"HTTP {error.code} {error.reason}") from error
        raise DownloadError(f"Fetching {url} failed with HTTP {error.code} {error.reason}.") from error
    except (OSError, http.client.HTTPException) as error:
        raise _RetryableError(str(getattr(error, "reason", error))) from error

    length = response.headers.get("Content-Length")
    length = int(length) if length is not None and length.isdigit() else None
    if offset and response.status == 206:
        match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != offset:
            response.close()
            raise _RetryableError(f"invalid Content-Range {response.headers.get('Content-Range')!r}")
        total = int(match.group(3)) if match.group(3) != "*" else None
        return response, offset, total
    return response, 0, length


def _fetch_once(url, part, file, label, progress, timeout):
    """Append the rest of `url` to `part`; return the part's size afterwards."""
    offset = part.stat().st_size if part.is_file() else 0
    if offset > file.size:
        part.unlink()
        offset = 0

    stream, start, total = _open_source(url, offset, timeout)
    with stream:
        if total is not None and total != file.size:
            raise ChecksumMismatchError(
                f"{url} has {total} bytes but the manifest lists {file.size} for {file.path}. "
                "The mirror holds another version of the file: use a matching mirror or manifest."
            )
        meter = _Progress(label, file.size, progress)
        done = start
        with open(part, "r+b" if part.is_file() else "wb") as output:
            output.seek(start)
            output.truncate()
            try:
                while True:
                    chunk = stream.read(_CHUNK_BYTES)
                    if not chunk:
                        break
                    output.write(chunk)
                    done += len(chunk)
                    meter.update(done)
            except (OSError, http.client.HTTPException) as error:
                raise _RetryableError(f"transfer interrupted at byte {done}: {error!r}") from error
            finally:
                output.flush()
                os.fsync(output.fileno())
        meter.update(done, final=True)
    return done


def _fetch_file(url, final, file, label, progress, retries, backoff, timeout):
    """Fetch one file into `final` through `<final>.part`, verified before the rename."""
    part = final.with_name(final.name + PART_SUFFIX)
    final.parent.mkdir(parents=True, exist_ok=True)
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            size = _fetch_once(url, part, file, label, progress, timeout)
            if size < file.size:
                raise _RetryableError(f"the source ended after {size} of {file.size} bytes")
            break
        except ChecksumMismatchError:
            part.unlink(missing_ok=True)
            raise
        except _RetryableError as error:
            if attempt == attempts:
                raise DownloadError(
                    f"Fetching {url} failed after {attempts} attempts: {error}. The partial file "
                    f"{part} is kept, and the next pull resumes from it. Check the network or pass "
                    "another --mirror."
                ) from error
            delay = backoff * 2 ** (attempt - 1)
            logger.warning("Fetching %s failed (%s); retry %d of %d in %.1f s.", url, error, attempt, retries, delay)
            time.sleep(delay)

    if size != file.size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(f"{url} gave {size} bytes but the manifest lists {file.size} for {file.path}.")
    digest = _sha256(part)
    if digest != file.sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{url} has SHA-256 {digest} but the manifest lists {file.sha256} for {file.path}. "
            "The file is corrupt or another version: nothing was stored. Use a matching mirror or manifest."
        )
    os.replace(part, final)
    _fsync_folder(final.parent)


def pull(
    name,
    mirror=None,
    cache_dir=None,
    progress=True,
    manifest=None,
    retries=4,
    backoff=0.5,
    timeout=30.0,
    quantize=None,
):
    """Fetch one variant of an artifact into the cache, unless a verified copy is there already.

    A cached file whose SHA-256 matches the manifest is used without any
    network access. Otherwise the file is fetched into `<file>.part`
    (resumed with an HTTP Range request after an interruption), checked
    against the manifest's size and SHA-256, and only then renamed to its
    final path, so the final path never holds a partial or wrong file.

    Args:
        name: the artifact's name in the manifest, for example `"face-embedder-orl"`.
        mirror: a base URL (http, https or file) or folder to fetch the
            files from instead of the manifest's url; each file's `path` is
            joined to it.
        cache_dir: the cache root. Files go to `<cache_dir>/artifacts/<name>/`.
            Default: `$ZOO_HOME`, else `~/.cache/beyond-zoo`.
        progress: show a progress line per file on stderr.
        manifest: a `Manifest`, or the path or URL of one. Default:
            `default_manifest_location()`.
        retries: attempts after the first one for each file.
        backoff: seconds before the first retry, doubled for each later one.
        timeout: seconds to wait for a server's response.
        quantize: the variant to fetch: `None` (the default) for the
            float32 files, or a quantization listed in the manifest, such
            as `"int8"`. Only that variant's files are fetched.

    Returns:
        The local path of the variant's model file (its first `.onnx` file).

    Raises:
        InvalidInputError: `name` contains a path separator or `..`.
        UnknownArtifactError: the manifest has no such artifact.
        UnknownVariantError: the artifact has no files of variant `quantize`.
        ManifestError: the manifest cannot be read.
        DownloadError: a file could not be fetched after every retry.
        ChecksumMismatchError: a fetched file's size or SHA-256 is wrong.
    """
    check_artifact_name(name)
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest, cache_dir=cache_dir, timeout=timeout)
    artifact = manifest.get(name)
    files = artifact.variant_files(quantize)
    folder = artifact_dir(name, cache_dir)
    base = str(mirror) if mirror is not None else artifact.base_url

    for file in files:
        final = folder.joinpath(*_cache_relative(artifact, file).split("/"))
        if _is_verified(final, file):
            logger.debug("Using the cached %s.", final)
            continue
        if final.exists():
            logger.warning("The cached %s does not match the manifest; fetching it again.", final)
        url = _join(base, file.path)
        logger.info("Fetching %s to %s.", url, final)
        _fetch_file(url, final, file, file.path, progress, retries, backoff, timeout)

    return folder.joinpath(*_cache_relative(artifact, artifact.model_file_of(quantize)).split("/"))


def _looks_like_path(model):
    text = str(model)
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    return any(separator in text for separator in separators) or text.endswith(".onnx") or text.startswith(".")


def resolve(model, mirror=None, cache_dir=None, manifest=None, progress=True, quantize=None):
    """Return the local path for a model path or an artifact name.

    An existing file or folder, or anything that looks like a path (a
    separator, a leading dot or an `.onnx` suffix), is returned as it is.
    Anything else is an artifact name and its variant `quantize` is pulled
    into the cache. An artifact with one `.onnx` part resolves to that file.
    An artifact with several parts (a VAE's `encoder.onnx` and
    `decoder.onnx`) resolves to its cache folder, and each wrapper
    (`Encoder`, `Decoder`, ...) loads the part whose `zoo_task` it runs.

    Raises:
        InvalidInputError: `quantize` is given with a path, which has no variants.
        UnknownArtifactError: `model` is neither a file nor an artifact name.
        ManifestError, DownloadError, ChecksumMismatchError, UnknownVariantError: see `pull`.
    """
    path = pathlib.Path(model)
    if path.exists() or _looks_like_path(model):
        if quantize is not None:
            raise InvalidInputError(
                f"quantize={quantize!r} selects a variant of an artifact name, but {model} is a path. "
                "Pass the quantized file's path without quantize, or an artifact name."
            )
        return path
    try:
        if not isinstance(manifest, Manifest):
            manifest = read_manifest(manifest, cache_dir=cache_dir)
        model_file = pull(
            model, mirror=mirror, cache_dir=cache_dir, progress=progress, manifest=manifest, quantize=quantize
        )
    except UnknownArtifactError as error:
        raise UnknownArtifactError(f"'{model}' is not an existing file. {error}") from error
    parts = onnx_parts(manifest.get(model), quantize)
    if len(parts) > 1:
        return artifact_dir(model, cache_dir)
    return model_file


def onnx_parts(artifact, quantize=None):
    """Return the `.onnx` files of one variant of an artifact, in manifest order."""
    return [file for file in artifact.variant_files(quantize) if file.path.endswith(".onnx")]


def resolve_parts(model, mirror=None, cache_dir=None, manifest=None, progress=True, quantize=None):
    """Return `(name, path)` for each `.onnx` part of a path or an artifact name.

    A path gives one pair named by its file stem. An artifact with one part
    gives one pair named by the artifact. An artifact with several parts
    gives one pair per part, named `ARTIFACT-PART` (the part's file stem),
    for example `vae-fashion-mnist-encoder` and `vae-fashion-mnist-decoder`.

    Raises:
        See `resolve`.
    """
    is_path = pathlib.Path(model).exists() or _looks_like_path(model)
    path = resolve(model, mirror=mirror, cache_dir=cache_dir, manifest=manifest, progress=progress, quantize=quantize)
    if path.is_dir():
        prefix = path.name if is_path else str(model)
        return [(f"{prefix}-{part.stem}", part) for part in sorted(path.glob("*.onnx"))]
    return [(path.stem if is_path else str(model), path)]


def load(name_or_path, mirror=None, cache_dir=None, manifest=None, progress=True, quantize=None, **kwargs):
    """Return the serving object for an artifact name or an `.onnx` path, pulling it if needed.

    Args:
        name_or_path: an artifact name from the manifest or a model path.
        mirror, cache_dir, manifest, progress: passed to `pull`.
        quantize: with an artifact name, the variant to load, for example
            `"int8"`; `None` loads the float32 files.
        **kwargs: passed to the wrapper, for example `providers` or `batch_size`.

    Returns:
        By the model's task: an `Embedder` (embedder), a `StyleGenerator`
        (a StyleGAN generator, with a `psi` input), a `Decoder` (other
        decoders and generators), an `Encoder` (encoder), a `Translator`
        (translator), or an `OnnxModel` (classifier).

    Raises:
        InvalidModelError: the model's task has no wrapper, or the file is a
            StyleGAN mapping or synthesis part.
        UnknownVariantError: the artifact has no files of variant `quantize`.
    """
    from serving.embedder import Embedder
    from serving.generative import Decoder, Encoder, Translator
    from serving.runtime import OnnxModel, find_part
    from serving.stylegan import load_generator, style_part_role

    wrappers = {
        "embedder": Embedder,
        "encoder": Encoder,
        "decoder": Decoder,
        "generator": Decoder,
        "translator": Translator,
        "classifier": OnnxModel,
    }
    path = resolve(
        name_or_path, mirror=mirror, cache_dir=cache_dir, manifest=manifest, progress=progress, quantize=quantize
    )
    if path.is_dir():
        # Without a task to choose by, a multi-part artifact loads its first
        # part with a wrapper, by file name: `decoder.onnx` before `encoder.onnx`.
        path = find_part(path, tuple(wrappers), providers=kwargs.get("providers"))

    # NOTE: reading the task of a bare path opens one extra session.
    onnx_model = OnnxModel(path, providers=kwargs.get("providers"))
    task = onnx_model.task
    if style_part_role(onnx_model) is not None:
        return load_generator(path, **kwargs)
    if task not in wrappers:
        raise InvalidModelError(
            f"{path} has zoo_task={task!r} in its metadata; load() knows {sorted(wrappers)}. "
            "Export the model with the zoo exporter, which sets the task."
        )
    if wrappers[task] is OnnxModel:
        kwargs = {key: value for key, value in kwargs.items() if key == "providers"}
    return wrappers[task](path, **kwargs)
