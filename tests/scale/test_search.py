"""Exact NumPy search against FAISS, and `Gallery(search="faiss")`."""

import builtins

import numpy as np
import pytest

from serving.errors import InvalidInputError, MissingDependencyError
from serving.gallery import Gallery
from serving.search import ExactSearch, FaissSearch, make_searcher

pytestmark = pytest.mark.backend_agnostic

DIM = 128


def unit_rows(rows, seed):
    matrix = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def brute_force_top_k(database, queries, k):
    scores = queries.astype(np.float64) @ database.T.astype(np.float64)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_exact_search_matches_brute_force():
    database, queries = unit_rows(5000, 0), unit_rows(40, 1)

    # Blocks of 700 rows force the running top-k merge across 8 blocks.
    scores, indices = ExactSearch(database, block_rows=700).search(queries, 10)

    np.testing.assert_array_equal(indices, brute_force_top_k(database, queries, 10))
    assert np.all(np.diff(scores, axis=1) <= 0)
    np.testing.assert_allclose(scores[:, 0], np.sum(queries * database[indices[:, 0]], axis=1), atol=1e-5)


@pytest.mark.parametrize(
    ("rows", "block_rows", "k"),
    [(3000, 50, 120), (30, 8, 50), (2000, 512, 1), (1000, 1000, 10), (5000, 4096, 7)],
    ids=["k-larger-than-block", "gallery-smaller-than-k", "k-1", "one-block", "threshold-within-block"],
)
def test_exact_search_blocks_match_brute_force(rows, block_rows, k):
    database, queries = unit_rows(rows, 10 + rows), unit_rows(300, 11)

    # 300 queries span two query blocks of 256 rows.
    scores, indices = ExactSearch(database, block_rows=block_rows).search(queries, k)

    expected = brute_force_top_k(database, queries, k)
    assert indices.shape == expected.shape == (300, min(k, rows))
    # Rows whose float64 scores differ by less than float32 rounding may
    # swap places, so compare the exact scores of the returned rows.
    exact = queries.astype(np.float64) @ database.T.astype(np.float64)
    np.testing.assert_allclose(np.take_along_axis(exact, indices, axis=1),
                               np.take_along_axis(exact, expected, axis=1), rtol=0, atol=1e-6)
    assert np.mean(indices == expected) > 0.999
    assert all(len(set(row)) == len(row) for row in indices.tolist())
    np.testing.assert_allclose(scores, np.take_along_axis(exact, indices, axis=1), atol=1e-5)


def test_exact_search_ties_across_blocks_keep_lower_rows():
    # Every row scores 1.0: the first k rows must win in every block layout.
    database = np.zeros((50, DIM), np.float32)
    database[:, 0] = 1.0

    _, indices = ExactSearch(database, block_rows=7).search(database[:2], 5)

    assert indices.tolist() == [[0, 1, 2, 3, 4]] * 2


def test_exact_search_caps_k_and_breaks_ties_by_row():
    # One-hot rows give exactly equal scores whatever the BLAS block shapes.
    database = np.zeros((4, DIM), np.float32)
    database[:, 0] = 1.0

    scores, indices = ExactSearch(database, block_rows=3).search(database[:1], 10)

    assert indices.tolist() == [[0, 1, 2, 3]]
    assert scores.shape == (1, 4)


def test_faiss_flat_matches_exact():
    pytest.importorskip("faiss", reason="faiss is not installed: pip install 'beyond-zoo[faiss]'")
    database, queries = unit_rows(5000, 3), unit_rows(40, 4)

    exact_scores, exact_indices = make_searcher("exact", database).search(queries, 10)
    faiss_scores, faiss_indices = make_searcher("faiss", database).search(queries, 10)

    np.testing.assert_array_equal(faiss_indices, exact_indices)
    np.testing.assert_allclose(faiss_scores, exact_scores, atol=1e-5)


def test_faiss_hnsw_recall_at_1():
    pytest.importorskip("faiss", reason="faiss is not installed: pip install 'beyond-zoo[faiss]'")
    database, queries = unit_rows(5000, 5), unit_rows(100, 6)

    _, exact = ExactSearch(database).search(queries, 1)
    _, approximate = FaissSearch(database, index="hnsw").search(queries, 1)

    assert np.mean(exact[:, 0] == approximate[:, 0]) >= 0.9


def test_missing_faiss_names_extra(monkeypatch):
    real_import = builtins.__import__

    def fail_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fail_faiss)
    with pytest.raises(MissingDependencyError, match=r"beyond-zoo\[faiss\]"):
        FaissSearch(unit_rows(3, 7))


def test_unknown_searcher_rejected():
    with pytest.raises(InvalidInputError, match="exact"):
        make_searcher("annoy", unit_rows(3, 8))


@pytest.mark.parametrize("search", ["exact", "faiss"])
def test_gallery_search_backends_agree(tmp_path, search):
    if search == "faiss":
        pytest.importorskip("faiss", reason="faiss is not installed: pip install 'beyond-zoo[faiss]'")
    people = unit_rows(60, 9)
    probes = unit_rows(12, 10)

    reference = Gallery.open(tmp_path / "exact.sqlite", (DIM, "model"))
    gallery = Gallery.open(tmp_path / f"indexed-{search}.sqlite", (DIM, "model"), search=search)
    for index in range(20):
        # Three embeddings per person, so the per-person minimum matters.
        reference.enrol(f"person{index:02d}", people[3 * index : 3 * index + 3])
        gallery.enrol(f"person{index:02d}", people[3 * index : 3 * index + 3])

    expected = reference.search(probes, k=5)
    found = gallery.search(probes, k=5)

    assert [[name for name, _ in row] for row in found] == [[name for name, _ in row] for row in expected]
    for row, expected_row in zip(found, expected):
        np.testing.assert_allclose([d for _, d in row], [d for _, d in expected_row], atol=1e-5)
    reference.close()
    gallery.close()
