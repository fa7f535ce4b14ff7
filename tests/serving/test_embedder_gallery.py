"""Embedder and Gallery against numpy golden values, and gallery atomicity."""

import sqlite3

import numpy as np
import pytest

from serving import Embedder, Gallery
from serving.errors import (
    CorruptFileError,
    GalleryError,
    GalleryMismatchError,
    InvalidInputError,
    InvalidModelError,
    ModelNotFoundError,
)
from tests.serving import tiny_models

pytestmark = pytest.mark.backend_agnostic

CPU = ["CPUExecutionProvider"]
DIM = tiny_models.EMBEDDING_DIM


@pytest.fixture(scope="module")
def embedder(embedder_path):
    return Embedder(embedder_path, providers=CPU, batch_size=2)


def _images(count, seed=0):
    return np.random.default_rng(seed).random((count, 8, 8, 1)).astype(np.float32)


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_embed_matches_numpy(embedder):
    images = _images(5)
    embeddings = embedder.embed(images)

    assert embeddings.shape == (5, DIM)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, tiny_models.embed_numpy(images), atol=1e-5)


def test_embed_resizes_uint8_rgb(embedder):
    big = (np.random.default_rng(1).random((16, 16, 3)) * 255).astype(np.uint8)
    grey = big.astype(np.float64) / 255 @ np.array([0.299, 0.587, 0.114])
    # Pillow's bilinear 2x reduction is the 4-tap filter [1, 3, 3, 1] / 8,
    # renormalised where it overhangs the border.
    taps = np.zeros((8, 16))
    for i in range(8):
        for j, weight in zip(range(2 * i - 1, 2 * i + 3), (1, 3, 3, 1)):
            if 0 <= j < 16:
                taps[i, j] = weight
    taps /= taps.sum(axis=1, keepdims=True)
    expected_input = (taps @ grey @ taps.T)[None, :, :, None]

    np.testing.assert_allclose(embedder.embed(big), tiny_models.embed_numpy(expected_input), atol=1e-5)


def test_thresholds_from_metadata(embedder):
    assert embedder.threshold() == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert embedder.threshold(1e-3) == pytest.approx(tiny_models.THRESHOLD_FAR_1E3)
    with pytest.raises(InvalidModelError, match="no threshold for FAR 0.1"):
        embedder.threshold(0.1)


def test_open_set_thresholds_from_metadata(embedder, open_set_embedder_path):
    open_set = Embedder(open_set_embedder_path, providers=CPU)

    assert open_set.open_set_thresholds() == {1e-2: pytest.approx(tiny_models.THRESHOLD_FPIR_1E2)}
    assert open_set.open_set_threshold() == pytest.approx(tiny_models.THRESHOLD_FPIR_1E2)
    assert open_set.open_set_gallery_identities == tiny_models.OPEN_SET_GALLERY_IDENTITIES
    assert open_set.threshold() == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    with pytest.raises(InvalidModelError, match="no open-set threshold for FPIR 0.001"):
        open_set.open_set_threshold(1e-3)

    assert embedder.open_set_thresholds() == {}
    assert embedder.open_set_gallery_identities is None
    with pytest.raises(InvalidModelError, match="no open-set threshold for FPIR 0.01"):
        embedder.open_set_threshold()


def _probe_at_distance(distance):
    """Return the unit vector e1, and a unit probe at `distance` from it."""
    cosine = 1.0 - distance**2 / 2.0
    enrolled = np.zeros((1, DIM), dtype=np.float32)
    enrolled[0, 0] = 1.0
    probe = np.zeros((1, DIM), dtype=np.float32)
    probe[0, 0] = cosine
    probe[0, 1] = np.sqrt(1.0 - cosine**2)
    return enrolled, probe


def test_identify_defaults_to_open_set_threshold(open_set_embedder_path, tmp_path, caplog):
    # Between the open-set threshold (0.5) and the 1:1 threshold (0.9).
    enrolled, probe = _probe_at_distance(0.7)
    embedder = Embedder(open_set_embedder_path, providers=CPU)

    default = embedder.identify_threshold()
    assert default.value == pytest.approx(tiny_models.THRESHOLD_FPIR_1E2)
    assert default.fpir == 1e-2
    assert default.far is None

    with caplog.at_level("WARNING", logger="serving.embedder"):
        with Gallery.open(tmp_path / "g.sqlite", embedder) as gallery:
            gallery.enrol("alice", enrolled)
            result = gallery.identify(probe)[0]
            explicit = gallery.identify(probe, threshold=1.0)[0]

    assert result.name is None
    assert result.nearest == "alice"
    assert result.distance == pytest.approx(0.7, abs=1e-5)
    assert explicit.name == "alice"
    assert caplog.records == []


def test_identify_falls_back_to_far_threshold(embedder_path, tmp_path, caplog):
    enrolled, probe = _probe_at_distance(0.7)
    embedder = Embedder(embedder_path, providers=CPU)

    with caplog.at_level("WARNING", logger="serving.embedder"):
        default = embedder.identify_threshold()
        with Gallery.open(tmp_path / "g.sqlite", embedder) as gallery:
            gallery.enrol("alice", enrolled)
            first = gallery.identify(probe)[0]
            second = gallery.identify(probe)[0]
            explicit = gallery.identify(probe, threshold=0.5)[0]

    assert default.value == pytest.approx(tiny_models.THRESHOLD_FAR_1E2)
    assert default.far == 1e-2
    assert default.fpir is None
    assert first.name == "alice"
    assert second.name == "alice"
    assert explicit.name is None
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "1:1 verification threshold for FAR 1e-2" in warnings[0].getMessage()


def test_verify_euclidean_distance(embedder):
    images = _images(2, seed=3)
    expected = tiny_models.embed_numpy(images)
    distance = np.linalg.norm(expected[0] - expected[1])

    result = embedder.verify(images[0], images[1])
    assert result.distance == pytest.approx(distance, abs=1e-5)
    assert result.threshold == pytest.approx(0.9)
    assert result.same == (distance <= 0.9)

    same = embedder.verify(images[0], images[0], far=1e-3)
    assert same.distance == pytest.approx(0.0, abs=1e-3)
    assert same.same


def test_embedder_rejects_unnormalised_and_wrong_task(model_dir):
    raw = Embedder(model_dir / "embedder_raw.onnx", providers=CPU)
    with pytest.raises(InvalidModelError, match="not L2-normalised"):
        raw.embed(_images(2))
    with pytest.raises(InvalidModelError, match="zoo_task='decoder'"):
        Embedder(model_dir / "decoder.onnx", providers=CPU)


def test_gallery_enrol_search_identify(embedder, tmp_path):
    images = _images(6, seed=4)
    expected = tiny_models.embed_numpy(images)
    path = tmp_path / "gallery.sqlite"

    with Gallery.open(path, embedder) as gallery:
        assert gallery.enrol("alice", images[:2]) == 2
        gallery.enrol("bob", images[2:4])
        gallery.enrol("carol", expected[4:5].astype(np.float32))
        assert gallery.people() == ["alice", "bob", "carol"]
        assert gallery.counts() == {"alice": 2, "bob": 2, "carol": 1}

    # Reopen: the matrix is rebuilt from the file.
    with Gallery.open(path, embedder, create=False) as gallery:
        probe = images[5:6]
        results = gallery.search(probe, k=5)[0]

        distances = np.linalg.norm(expected[:5] - expected[5], axis=1)
        golden = {"alice": distances[:2].min(), "bob": distances[2:4].min(), "carol": distances[4]}
        assert [name for name, _ in results] == sorted(golden, key=golden.get)
        for name, distance in results:
            assert distance == pytest.approx(golden[name], abs=1e-5)
        assert len(gallery.search(probe, k=2)[0]) == 2

        exact = gallery.identify(images[2:3], threshold=0.5)[0]
        assert exact.name == "bob"
        assert exact.distance == pytest.approx(0.0, abs=1e-3)
        nearest_name = results[0][0]
        far_below = gallery.identify(probe, threshold=results[0][1] - 1e-3)[0]
        assert far_below.name is None
        assert far_below.nearest == nearest_name


def test_gallery_duplicate_and_unknown(tmp_path):
    vectors = _unit(np.eye(DIM)[:3] + 0.1)
    with Gallery.open(tmp_path / "g.sqlite", (DIM, "hash")) as gallery:
        gallery.enrol("alice", vectors[:1])
        with pytest.raises(GalleryError, match="already enrolled"):
            gallery.enrol("alice", vectors[1:2])
        gallery.enrol("alice", vectors[1:3], replace=True)
        assert gallery.counts() == {"alice": 2}

        with pytest.raises(GalleryError, match="'bob' is not enrolled"):
            gallery.remove("bob")
        gallery.remove("alice")
        assert gallery.people() == []
        assert gallery.search(vectors[:1]) == [[]]
        assert gallery.identify(vectors[:1], threshold=1.0)[0].name is None


def test_gallery_input_errors(tmp_path):
    with Gallery.open(tmp_path / "g.sqlite", (DIM, "hash")) as gallery:
        with pytest.raises(InvalidInputError, match=rf"\(N, {DIM}\)"):
            gallery.enrol("alice", np.ones((2, DIM + 1), np.float32))
        with pytest.raises(InvalidInputError, match="L2-normalised"):
            gallery.enrol("alice", np.ones((2, DIM), np.float32))
        with pytest.raises(InvalidInputError, match="NaN"):
            gallery.enrol("alice", np.full((1, DIM), np.nan, np.float32))
        with pytest.raises(InvalidInputError, match="cannot embed images"):
            gallery.enrol("alice", [b"P5 1 1 255\n\x00"])
        with pytest.raises(InvalidInputError, match="name"):
            gallery.enrol(" ", _unit(np.ones((1, DIM))))
        with pytest.raises(InvalidInputError, match="k must be"):
            gallery.search(_unit(np.ones((1, DIM))), k=0)
        assert gallery.people() == []


def _snapshot(path):
    connection = sqlite3.connect(str(path))
    try:
        people = connection.execute("SELECT id, name FROM people ORDER BY id").fetchall()
        vectors = connection.execute("SELECT id, person_id, vector FROM embeddings ORDER BY id").fetchall()
    finally:
        connection.close()
    return people, vectors


def test_gallery_failed_enrol_leaves_file_unchanged(tmp_path):
    path = tmp_path / "g.sqlite"
    vectors = _unit(np.random.default_rng(5).standard_normal((5, DIM)))
    with Gallery.open(path, (DIM, "hash")) as gallery:
        gallery.enrol("alice", vectors[:2])

    # A trigger makes the second embedding of any enrolment fail, after the
    # person row and the first embedding are already written.
    connection = sqlite3.connect(str(path))
    connection.execute(
        "CREATE TRIGGER fail_second BEFORE INSERT ON embeddings "
        "WHEN (SELECT count(*) FROM embeddings WHERE person_id = NEW.person_id) >= 1 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    connection.commit()
    connection.close()
    before = _snapshot(path)

    with Gallery.open(path, (DIM, "hash")) as gallery:
        with pytest.raises(GalleryError, match="injected failure"):
            gallery.enrol("bob", vectors[2:4])
        with pytest.raises(GalleryError, match="rolled back"):
            gallery.enrol("alice", vectors[2:5], replace=True)
        assert gallery.counts() == {"alice": 2}

    assert _snapshot(path) == before
    with Gallery.open(path, (DIM, "hash")) as gallery:
        assert gallery.counts() == {"alice": 2}
        np.testing.assert_allclose(gallery.search(vectors[1:2], k=1)[0][0][1], 0.0, atol=1e-3)


def test_gallery_from_other_model(embedder, tmp_path):
    path = tmp_path / "g.sqlite"
    Gallery.open(path, (DIM, "another-model-hash")).close()

    with pytest.raises(GalleryMismatchError, match="another model"):
        Gallery.open(path, embedder)
    with pytest.raises(GalleryMismatchError, match="embedding_dim=6"):
        Gallery.open(path, (DIM + 1, "another-model-hash"))


def test_gallery_open_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Gallery.open(tmp_path / "absent.sqlite", (DIM, "hash"), create=False)

    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_bytes(b"these are not the bytes of a database" * 100)
    with pytest.raises(CorruptFileError, match="not a gallery"):
        Gallery.open(not_sqlite, (DIM, "hash"))

    other_db = tmp_path / "other.sqlite"
    connection = sqlite3.connect(str(other_db))
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    with pytest.raises(CorruptFileError, match="not a gallery"):
        Gallery.open(other_db, (DIM, "hash"))


def test_gallery_open_unwritable_path():
    with pytest.raises(GalleryError, match=r"/proc/x\.db .*Choose a gallery path"):
        Gallery.open("/proc/x.db", (DIM, "hash"))


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "x" * 257])
def test_enrol_rejects_bad_names(tmp_path, name):
    with Gallery.open(tmp_path / "g.db", (DIM, "hash")) as gallery:
        with pytest.raises(InvalidInputError, match="control characters|at most 256"):
            gallery.enrol(name, _unit(np.ones((1, DIM))))
        assert len(gallery) == 0
