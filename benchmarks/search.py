"""Gallery search benchmark: exact NumPy top-k against FAISS exact and HNSW.

    python -m benchmarks.search --rows 100000 --out search.json

Embeddings are random unit vectors of 128 float32 values (the hardest case
for approximate search: no cluster structure). Recall@1 of HNSW is the
fraction of queries whose first result equals the exact first result.
"""

import argparse
import json
import time

import numpy as np

DIM = 128


def _unit_rows(rows, seed):
    matrix = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def run(rows, queries=1000, k=10):
    from serving.search import ExactSearch

    database = _unit_rows(rows, 0)
    probes = _unit_rows(queries, 1)
    report = {"rows": rows, "dim": DIM, "queries": queries, "k": k}

    searcher = ExactSearch(database)
    (_, exact), exact_seconds = _timed(lambda: searcher.search(probes, k))
    report["numpy_exact_queries_per_second"] = queries / exact_seconds

    try:
        import faiss
    except ImportError:
        report["faiss"] = "not installed: pip install 'beyond-zoo[faiss]'"
        return report

    from serving.search import FaissSearch

    report["faiss_version"] = faiss.__version__
    flat = FaissSearch(database, index="flat")
    (_, flat_indices), flat_seconds = _timed(lambda: flat.search(probes, k))
    report["faiss_flat_queries_per_second"] = queries / flat_seconds
    report["faiss_flat_speedup_over_numpy"] = exact_seconds / flat_seconds
    report["faiss_flat_agrees_with_numpy"] = float(np.mean(flat_indices[:, 0] == exact[:, 0]))

    hnsw, build_seconds = _timed(lambda: FaissSearch(database, index="hnsw"))
    (_, hnsw_indices), hnsw_seconds = _timed(lambda: hnsw.search(probes, k))
    report["faiss_hnsw_build_seconds"] = build_seconds
    report["faiss_hnsw_queries_per_second"] = queries / hnsw_seconds
    report["faiss_hnsw_speedup_over_numpy"] = exact_seconds / hnsw_seconds
    report["faiss_hnsw_speedup_over_flat"] = flat_seconds / hnsw_seconds
    report["faiss_hnsw_recall_at_1"] = float(np.mean(hnsw_indices[:, 0] == exact[:, 0]))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="Gallery rows, up to 1,000,000.")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args(argv)
    report = run(arguments.rows, arguments.queries)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
