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
def test_search_report_tunes_ivf_recall():
    pytest.importorskip("faiss", reason="faiss is not installed (pip install 'beyond-zoo[faiss]')")

    report = search.run(rows=3000, queries=100, k=5, rounds=1, target_recall=0.9)

    assert report["faiss_flat_agrees_with_numpy"] == 1.0
    assert [row["ef_search"] for row in report["faiss_hnsw"]["rows"]][0] == 64
    # The tuning queries differ from the timed ones, so allow some slack.
    assert report["faiss_ivf"]["rows"][0]["recall_at_1"] >= 0.8
    markdown = to_markdown({"search": report})
    assert "FAISS IVFFlat" in markdown
    assert "efSearch=64" in markdown
