"""`Gallery`: enrolled identities in one SQLite file, searched in memory.

Schema:
- `meta(key, value)`: `schema_version`, `embedding_dim` and `model_sha256`
  (SHA-256 of the ONNX embedder that made the embeddings);
- `people(id, name UNIQUE)`;
- `embeddings(id, person_id, vector)`: one float32 little-endian blob of
  `embedding_dim` values per enrolled image.

Every write runs in one SQLite transaction that commits before the method
returns, or rolls back on any error, so the file never holds half an
enrolment. The embeddings are loaded into one matrix on open and after each
write; searches use that matrix.
"""

import dataclasses
import pathlib
import sqlite3
import unicodedata

import numpy as np

from serving.embedder import Embedder, check_embeddings, euclidean_distances
from serving.errors import CorruptFileError, GalleryError, GalleryMismatchError, InvalidInputError, ModelNotFoundError
from serving.search import SEARCHERS, make_searcher

SCHEMA_VERSION = "1"

# The same limit as the HTTP API's `name` field.
MAX_NAME_LENGTH = 256

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE embeddings ("
    " id INTEGER PRIMARY KEY,"
    " person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    " vector BLOB NOT NULL)",
    "CREATE INDEX embeddings_person ON embeddings(person_id)",
)


@dataclasses.dataclass(frozen=True)
class Identification:
    """Outcome of identifying one probe image.

    Attributes:
        name: the nearest enrolled person when their distance is within the
            threshold, else None ("unknown").
        distance: distance to the nearest enrolled person (inf for an empty gallery).
        nearest: the nearest enrolled person whatever the threshold, or None
            for an empty gallery.
    """

    name: object
    distance: float
    nearest: object


class Gallery:
    """Enrolled people and their embeddings, stored in one SQLite file.

    Create or open one with `Gallery.open`. Distances are Euclidean between
    L2-normalised embeddings, as in `Embedder.verify`.

    NOTE: the in-memory matrix is reloaded on open and after this object's
    own writes, not after writes by another process to the same file.
    """

    def __init__(self, path, connection, embedding_dim, model_sha256, embedder=None, search="exact"):
        if search not in SEARCHERS:
            raise InvalidInputError(f"search must be one of {SEARCHERS}. Received: {search!r}")
        self.search_kind = search
        self._searcher = None
        self.path = pathlib.Path(path)
        self.embedding_dim = embedding_dim
        self.model_sha256 = model_sha256
        self.embedder = embedder
        self._connection = connection
        self._names = []
        self._matrix = np.zeros((0, embedding_dim), dtype=np.float32)
        self._owner = np.zeros(0, dtype=np.int64)
        self._reload()

    @classmethod
    def open(cls, path, model, create=True, search="exact"):
        """Open a gallery file, creating it when absent and `create` is True.

        Args:
            path: the SQLite file.
            model: the `Embedder` whose embeddings the gallery holds, or a
                `(embedding_dim, model_sha256)` pair to work with embeddings
                only.
            create: create a new empty gallery when the file does not exist.
            search: "exact" (NumPy, the default) or "faiss" (needs the
                faiss extra; faster for large galleries).

        Returns:
            A `Gallery`.

        Raises:
            ModelNotFoundError: the file does not exist and `create` is False.
            GalleryError: the file or its folder cannot be created or opened
                (no permission, read-only or virtual file system).
            CorruptFileError: the file is not a gallery.
            GalleryMismatchError: the gallery was made with another model.
        """
        path = pathlib.Path(path)
        if isinstance(model, Embedder):
            embedder, dim, model_hash = model, model.embedding_dim, model.model_sha256
        else:
            embedder = None
            try:
                dim, model_hash = model
                dim = int(dim)
            except (TypeError, ValueError) as error:
                raise InvalidInputError(
                    "model must be an Embedder or a (embedding_dim, model_sha256) pair. "
                    f"Received: {model!r}"
                ) from error

        exists = path.exists()
        if not exists and not create:
            raise ModelNotFoundError(
                f"Gallery {path} does not exist. Enrol a person first with `zoo enroll`, "
                "or open it with create=True from Python."
            )
        try:
            if not exists:
                path.parent.mkdir(parents=True, exist_ok=True)

            # isolation_level=None: transactions are opened and closed explicitly below.
            connection = sqlite3.connect(str(path), isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise _cannot_open(path, error) from error
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            if exists:
                _check_meta(connection, path, dim, model_hash)
            else:
                _create_schema(connection, dim, model_hash)
        except sqlite3.OperationalError as error:
            connection.close()
            if exists:
                raise CorruptFileError(
                    f"{path} is not a gallery file ({error}). Pass another path to create a new gallery."
                ) from error
            raise _cannot_open(path, error) from error
        except sqlite3.DatabaseError as error:
            connection.close()
            raise CorruptFileError(
                f"{path} is not a gallery file ({error}). Pass another path to create a new gallery."
            ) from error
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, dim, model_hash, embedder, search)

    def close(self):
        """Close the SQLite connection."""
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._names

    def people(self):
        """Return the enrolled names, sorted."""
        return list(self._names)

    def counts(self):
        """Return a dict name -> number of enrolled embeddings."""
        counts = np.bincount(self._owner, minlength=len(self._names))
        return {name: int(count) for name, count in zip(self._names, counts)}

    def _embeddings_from(self, embeddings_or_images):
        """Return (N, dim) embeddings: check given ones, or embed given images."""
        array = embeddings_or_images
        if isinstance(array, np.ndarray) and array.ndim in (1, 2) and np.issubdtype(array.dtype, np.floating):
            return check_embeddings(array, self.embedding_dim)
        if self.embedder is None:
            raise InvalidInputError(
                "This gallery was opened with (embedding_dim, model_sha256), so it cannot "
                "embed images. Pass an (N, embedding_dim) float array, or open it with an Embedder."
            )
        return self.embedder.embed(embeddings_or_images)

    def enrol(self, name, embeddings_or_images, replace=False):
        """Enrol a person with one or more embeddings.

        Args:
            name: the person's name, a non-empty string.
            embeddings_or_images: an (N, embedding_dim) or (embedding_dim,)
                float array of L2-normalised embeddings, or images that the
                gallery's `Embedder` embeds.
            replace: replace the embeddings of a person already enrolled.

        Returns:
            The number of embeddings stored for `name`.

        Raises:
            GalleryError: `name` is enrolled and `replace` is False, or the
                write failed. The file and this object are then unchanged.
            InvalidInputError: a bad name, embedding or image.
        """
        check_person_name(name)
        vectors = self._embeddings_from(embeddings_or_images)
        blobs = [(vector.astype("<f4").tobytes(),) for vector in vectors]

        def write(cursor):
            row = cursor.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is not None:
                if not replace:
                    raise GalleryError(
                        f"{name!r} is already enrolled in {self.path}. Pass replace=True "
                        "to replace their embeddings, or remove them first."
                    )
                cursor.execute("DELETE FROM people WHERE id = ?", (row[0],))
            person_id = cursor.execute("INSERT INTO people (name) VALUES (?)", (name,)).lastrowid
            cursor.executemany(
                "INSERT INTO embeddings (person_id, vector) VALUES (?, ?)",
                [(person_id, blob) for (blob,) in blobs],
            )

        self._transaction(write)
        return len(blobs)

    def remove(self, name):
        """Remove a person and all their embeddings.

        Raises:
            GalleryError: `name` is not enrolled, or the write failed.
        """

        def write(cursor):
            deleted = cursor.execute("DELETE FROM people WHERE name = ?", (name,)).rowcount
            if deleted == 0:
                raise GalleryError(
                    f"{name!r} is not enrolled in {self.path}. Enrolled: {_preview(self._names)}."
                )

        self._transaction(write)

    def search(self, embeddings_or_images, k=5):
        """Find the k nearest enrolled people for each probe.

        A person's distance is the minimum over their enrolled embeddings of
        the Euclidean distance to the probe (nearest-neighbour, not the mean).

        Args:
            embeddings_or_images: probe embeddings (N, dim) or images.
            k: people to return per probe, at most the number enrolled.

        Returns:
            One list per probe of `(name, distance)` pairs, nearest first.
            The lists are empty for an empty gallery.
        """
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer. Received: {k!r}")
        probes = self._embeddings_from(embeddings_or_images)
        if not self._names:
            return [[] for _ in probes]

        if self.search_kind != "exact":
            return self._search_with_index(probes, k)

        distances = euclidean_distances(probes, self._matrix)

        # The matrix rows are grouped by person, so each person's minimum is
        # one reduceat over the start row of each group.
        starts = np.searchsorted(self._owner, np.arange(len(self._names)))
        per_person = np.minimum.reduceat(distances, starts, axis=1)
        order = np.argsort(per_person, axis=1, kind="stable")[:, :k]
        return [
            [(self._names[j], float(per_person[i, j])) for j in order[i]]
            for i in range(len(probes))
        ]

    def _search_with_index(self, probes, k):
        """`search` through a `serving.search` index over the embeddings.

        With at most c embeddings per person, the top k * c rows hold at
        least k distinct people, so each person's best row is among them.
        """
        if self._searcher is None:
            self._searcher = make_searcher(self.search_kind, self._matrix)
        rows = min(len(self._matrix), k * int(np.bincount(self._owner).max()))
        scores, indices = self._searcher.search(probes, rows)

        results = []
        for probe_scores, probe_rows in zip(scores, indices):
            best = {}
            for score, row in zip(probe_scores, probe_rows):
                person = int(self._owner[row])
                if person not in best:
                    best[person] = float(score)
            nearest = list(best.items())[:k]
            results.append([
                (self._names[person], float(np.sqrt(max(2.0 - 2.0 * score, 0.0))))
                for person, score in nearest
            ])
        return results

    def identify(self, embeddings_or_images, threshold=None):
        """Name each probe's nearest person, or None when no one is near enough.

        Args:
            embeddings_or_images: probe embeddings (N, dim) or images.
            threshold: the largest distance accepted as a match. Default:
                the embedder's open-set threshold for FPIR 1e-2 (see
                `Embedder.identify_threshold`, needs an `Embedder`). Models
                exported without one fall back to their 1:1 verification
                threshold for FAR 1e-2, with a logged warning.

        Returns:
            One `Identification(name, distance, nearest)` per probe.

        Raises:
            InvalidInputError: no `threshold` and no `Embedder`, or bad probes.
            InvalidModelError: no `threshold` and the model stores neither
                default threshold.
        """
        if threshold is None:
            if self.embedder is None:
                raise InvalidInputError(
                    "identify needs a threshold when the gallery has no Embedder. Pass "
                    "threshold=, for example Embedder.identify_threshold().value of the gallery's model."
                )
            threshold = self.embedder.identify_threshold().value

        results = []
        for matches in self.search(embeddings_or_images, k=1):
            if not matches:
                results.append(Identification(name=None, distance=float("inf"), nearest=None))
                continue
            nearest, distance = matches[0]
            name = nearest if distance <= threshold else None
            results.append(Identification(name=name, distance=distance, nearest=nearest))
        return results

    def _transaction(self, write):
        """Run `write(cursor)` in one transaction, then reload the matrix.

        On any error the transaction rolls back and the error is re-raised,
        as GalleryError for SQLite errors.
        """
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            write(cursor)
            cursor.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise GalleryError(
                f"Writing to gallery {self.path} failed and was rolled back: {error}"
            ) from error
        except BaseException:
            self._rollback()
            raise
        self._reload()

    def _rollback(self):
        # SQLite ends the transaction itself after some errors (disk full, I/O).
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _reload(self):
        rows = self._connection.execute(
            "SELECT p.name, e.vector FROM people p JOIN embeddings e ON e.person_id = p.id "
            "ORDER BY p.name, e.id"
        ).fetchall()
        names = []
        owner = []
        vectors = []
        for name, blob in rows:
            if not names or names[-1] != name:
                names.append(name)
            vector = np.frombuffer(blob, dtype="<f4")
            if vector.size != self.embedding_dim:
                raise CorruptFileError(
                    f"Gallery {self.path} contains an embedding of {vector.size} values for "
                    f"{name!r}; expected {self.embedding_dim}."
                )
            owner.append(len(names) - 1)
            vectors.append(vector)
        self._names = names
        self._searcher = None
        self._owner = np.array(owner, dtype=np.int64)
        if vectors:
            self._matrix = np.stack(vectors).astype(np.float32)
        else:
            self._matrix = np.zeros((0, self.embedding_dim), dtype=np.float32)


def check_person_name(name):
    """Check a person's name and raise InvalidInputError when it is invalid.

    A name is a string of 1 to MAX_NAME_LENGTH characters, without leading
    or trailing whitespace and without control characters (newline, tab),
    which would break the one-line-per-person output of `zoo gallery list`.
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise InvalidInputError(
            f"A person's name must be a non-empty string without leading or trailing "
            f"spaces. Received: {name!r}"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"A person's name must have at most {MAX_NAME_LENGTH} characters. "
            f"Received {len(name)} characters: {name[:40]!r}..."
        )
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise InvalidInputError(
            f"A person's name must not contain control characters such as newline or tab. Received: {name!r}"
        )


def _cannot_open(path, error):
    return GalleryError(
        f"Cannot create or open the gallery file {path} ({error}). "
        "Choose a gallery path in an existing folder that you can write to."
    )


def _preview(names, limit=10):
    if not names:
        return "nobody"
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _create_schema(connection, dim, model_hash):
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", SCHEMA_VERSION),
                ("embedding_dim", str(dim)),
                ("model_sha256", model_hash),
            ],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _check_meta(connection, path, dim, model_hash):
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise CorruptFileError(
            f"{path} has gallery schema version {meta.get('schema_version')!r}; this code "
            f"reads version {SCHEMA_VERSION}."
        )
    stored_dim = meta.get("embedding_dim")
    stored_hash = meta.get("model_sha256")
    if stored_dim != str(dim) or stored_hash != model_hash:
        raise GalleryMismatchError(
            f"Gallery {path} was made with another model (embedding_dim={stored_dim}, "
            f"model_sha256={stored_hash}); this model has embedding_dim={dim}, "
            f"model_sha256={model_hash}. Embeddings of different models are not comparable: "
            "enrol the people again into a new gallery file with this model."
        )
