"""The measurement methods of the benchmarks in `benchmarks/`, on tiny inputs."""

import numpy as np
import pytest

from benchmarks import inference, search, training
from benchmarks.results import to_markdown


def test_training_sides_match_and_interleave():
    row = training.benchmark_model("toy", steps=2, rounds=3)

    assert row["optimizers"] == row["reference_optimizers"]
    assert row["jit_compile"] == row["reference_jit_compile"]
    assert len(row["overhead_per_round"]) == 3
    assert row["overhead"] == pytest.approx(sorted(row["overhead_per_round"])[1])
    assert row["overhead_min"] <= row["overhead"] <= row["overhead_max"]
    assert row["zoo_ms_per_step"] > 0
    assert row["reference_ms_per_step"] > 0


@pytest.mark.backend_agnostic
def test_model_flops_matches_hand_count():
    from zoo.metric import build_embedder

    model = build_embedder(input_shape=(8, 6, 1), embedding_dim=4, widths=(2, 3), convs_per_block=1)

    # conv 8x6x1 -> 8x6x2, pool to 4x3, conv 4x3x2 -> 4x3x3, dense 3 -> 4.
    expected = 2 * (8 * 6 * 2 * 9 * 1) + 2 * (4 * 3 * 3 * 9 * 2) + 2 * 3 * 4
    assert inference.model_flops(model) == expected


@pytest.mark.backend_agnostic
def test_search_unit_rows_are_float32_unit_vectors():
    rows = search._unit_rows(1000, seed=0)

    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


@pytest.mark.backend_agnostic
def test_inference_fraction_agrees_with_table_columns():
    # Made-up seconds per call over 3 rounds; the slow matmul sample of
    # round 0 meets the fastest onnxruntime sample, as at batch 256 once.
    samples = {"onnxruntime": [0.5, 1.0, 2.0], "predict": [1.0, 2.0, 4.0], "call": [1.0, 3.0, 2.0],
               "matmul": [4.0, 1.0, 2.0]}

    row = inference._batch_row(batch_size=10, samples=samples, flops=2e9, matmul_flops=4e9)

    # Medians: onnxruntime 1.0 s for 10 x 2 GFLOP, matmul 2.0 s for 4 GFLOP.
    # The median of per-round ratios (40, 5, 5) would report 5 instead.
    assert row["onnxruntime_gflops"] == pytest.approx(20.0)
    assert row["numpy_matmul_gflops"] == pytest.approx(2.0)
    assert row["onnxruntime_fraction_of_matmul_peak"] == pytest.approx(10.0)
    assert row["predict_over_onnxruntime"] == pytest.approx(2.0)
    markdown = to_markdown({"inference": {"model": "toy", "backend": "numpy", "mflops_per_image": 2000.0,
                                          "numpy_matmul_gflops": 2.0, "results": [row]}})
    assert "| 10 | 10 (5-20) | 2.00 | 2.00 | 20.0 | 2.0 | 10.00 |" in markdown


@pytest.mark.backend_agnostic
def test_identity_gallery_clusters_queries_with_their_identity():
    gallery, gallery_labels, probes, probe_labels = search.identity_gallery(2000, 50, seed=0)

    assert gallery.dtype == probes.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(gallery, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.bincount(gallery_labels), np.full(200, 10))
    # Each query's nearest gallery row belongs to the query's identity.
    nearest = np.argmax(probes @ gallery.T, axis=1)
    np.testing.assert_array_equal(gallery_labels[nearest], probe_labels)


@pytest.mark.backend_agnostic
def test_search_table_unreached_target():
    report = {"rows": 10, "dim": 4, "queries": 2, "k": 1, "rounds": 1, "target_recall_at_1": 0.9,
              "numpy_exact_queries_per_second": 1.0, "faiss_flat_queries_per_second": 2.0,
              "faiss_flat_speedup_over_numpy": 2.0, "faiss_flat_agrees_with_numpy": 1.0,
              "faiss_hnsw": {"m": 32, "build_seconds": 1.0, "rows": [
                  {"ef_search": 64, "queries_per_second": 3.0, "speedup_over_numpy": 3.0, "recall_at_1": 0.1},
                  {"ef_search": 1024, "reached_target": False, "queries_per_second": 1.0,
                   "speedup_over_numpy": 1.0, "recall_at_1": 0.5}]},
              "faiss_ivf": {"lists": 3, "build_seconds": 1.0, "rows": [
                  {"nprobe": 2, "reached_target": True, "queries_per_second": 5.0, "speedup_over_numpy": 5.0,
                   "recall_at_1": 0.95}]}}

    markdown = to_markdown({"search": report})

    assert "efSearch=1024, largest efSearch tried: recall@1 target not reached" in markdown
    assert "efSearch=64)" in markdown
    assert "nprobe=2)" in markdown


@pytest.mark.backend_agnostic
def test_hnsw_default_tuned_one_row():
    hnsw_row = {"ef_search": 64, "queries_per_second": 3.0, "speedup_over_numpy": 3.0, "recall_at_1": 0.99}
    report = {"rows": 10, "dim": 4, "queries": 2, "k": 1, "rounds": 1, "target_recall_at_1": 0.9,
              "numpy_exact_queries_per_second": 1.0, "faiss_flat_queries_per_second": 2.0,
              "faiss_flat_speedup_over_numpy": 2.0, "faiss_flat_agrees_with_numpy": 1.0,
              "faiss_hnsw": {"m": 32, "build_seconds": 1.0,
                             "rows": [hnsw_row, dict(hnsw_row, reached_target=True, queries_per_second=2.5)]},
              "faiss_ivf": {"lists": 3, "build_seconds": 1.0, "rows": []}}

    markdown = to_markdown({"search": report})

    assert markdown.count("FAISS HNSW") == 1


@pytest.mark.backend_agnostic
def test_search_report_tunes_ivf_recall():
    pytest.importorskip("faiss", reason="faiss is not installed (pip install 'beyond-zoo[faiss]')")

    report = search.run(rows=3000, queries=100, k=5, rounds=1, target_recall=0.9)

    assert report["faiss_flat_agrees_with_numpy"] == 1.0
    assert report["numpy_identity_accuracy_at_1"] >= 0.95
    assert "300 identities x 10 samples" in report["gallery"]
    assert [row["ef_search"] for row in report["faiss_hnsw"]["rows"]][0] == 64
    # The tuning queries differ from the timed ones, so allow some slack.
    assert report["faiss_ivf"]["rows"][0]["recall_at_1"] >= 0.8
    markdown = to_markdown({"search": report})
    assert "FAISS IVFFlat" in markdown
    assert "efSearch=64" in markdown
