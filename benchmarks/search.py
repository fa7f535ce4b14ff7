"""Gallery search benchmark: exact NumPy top-k against FAISS exact, HNSW and IVF.

    python -m benchmarks.search --rows 1000000 --out search.json

Embeddings are 128 float32 values clustered by identity, as a face
embedder's are: the gallery contains `rows / 10` identities with 10 samples
each, every sample a random unit centre plus Gaussian noise, normalised.
The queries are new noisy samples of identities drawn from the gallery.
(I.i.d. random unit vectors, with no cluster structure, would be the worst
case for approximate indexes and tell little about a real gallery.) The
gallery of 1,000,000 rows takes 512 MB. It is generated in float32 and
normalised in place, and the NumPy searcher reads it without a copy. Each FAISS index keeps its own
copy, so only one index is alive at a time.

NumPy and FAISS's flat index are timed in interleaved rounds (NumPy, FAISS,
FAISS, NumPy, ...) and their ratio is the median over rounds. Recall@1 of
an approximate index is the fraction of queries whose first result equals
the exact first result. The search-time parameter of HNSW (efSearch) and of
IVF (nprobe) is raised until recall@1 reaches `target_recall` on a separate
set of tuning queries, then the benchmark queries are timed once with it;
when no value in the tried range reaches it, the row says so.
"""

import argparse
import json
import math
import statistics
import time

import numpy as np

DIM = 128
NORMALISE_CHUNK_ROWS = 65536
HNSW_EF_SEARCH = (64, 128, 256, 512, 1024)
IVF_TRAINING_ROWS_PER_LIST = 50
SAMPLES_PER_IDENTITY = 10
# Per-coordinate noise around a unit centre: the noise norm is about
# 0.05 * sqrt(128) = 0.57, so two samples of one identity have a cosine
# near 0.75 and samples of different identities near 0 (+-0.09).
IDENTITY_NOISE = 0.05


def _unit_rows(rows, seed):
    return _normalise_rows(np.random.default_rng(seed).standard_normal((rows, DIM), dtype=np.float32))


def _normalise_rows(matrix):
    # Chunks keep the temporary of the row norms small next to the matrix.
    for start in range(0, len(matrix), NORMALISE_CHUNK_ROWS):
        chunk = matrix[start : start + NORMALISE_CHUNK_ROWS]
        chunk /= np.sqrt(np.einsum("ij,ij->i", chunk, chunk))[:, None]
    return matrix


def _noisy_samples(centres, labels, noise, rng):
    """Return float32 (len(labels), DIM) unit rows: `centres[labels]` plus Gaussian noise, normalised."""
    samples = np.empty((len(labels), DIM), np.float32)
    for start in range(0, len(labels), NORMALISE_CHUNK_ROWS):
        chunk = samples[start : start + NORMALISE_CHUNK_ROWS]
        rng.standard_normal(chunk.shape, dtype=np.float32, out=chunk)
        chunk *= noise
        chunk += centres[labels[start : start + NORMALISE_CHUNK_ROWS]]
    return _normalise_rows(samples)


def identity_gallery(rows, queries, seed, samples_per_identity=SAMPLES_PER_IDENTITY, noise=IDENTITY_NOISE):
    """Build a gallery clustered by identity and queries that are new samples of its identities.

    Args:
        rows: gallery rows; row i belongs to identity `i % identities`.
        queries: query rows, each a new sample of a random gallery identity.
        seed: seed of the centres, the gallery noise and the queries.
        samples_per_identity: gallery rows per identity.
        noise: standard deviation of the noise on each coordinate.

    Returns:
        `(gallery, gallery_labels, probes, probe_labels)`: float32
        (rows, DIM) and (queries, DIM) unit rows with their int64 identities.
    """
    rng = np.random.default_rng(seed)
    identities = max(1, rows // samples_per_identity)
    centres = _normalise_rows(rng.standard_normal((identities, DIM), dtype=np.float32))
    gallery_labels = np.arange(rows, dtype=np.int64) % identities
    probe_labels = rng.integers(0, identities, size=queries)
    gallery = _noisy_samples(centres, gallery_labels, noise, rng)
    probes = _noisy_samples(centres, probe_labels, noise, rng)
    return gallery, gallery_labels, probes, probe_labels


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _recall_at_1(indices, exact):
    return float(np.mean(indices[:, 0] == exact[:, 0]))


def _exact_against_flat(database, probes, k, rounds, report):
    """Time NumPy and FAISS's flat index in interleaved rounds and return NumPy's top-k indices and median seconds."""
    from serving.search import ExactSearch, FaissSearch

    numpy_searcher = ExactSearch(database)
    flat = FaissSearch(database, index="flat")
    timings = {"numpy": [], "flat": []}
    results = {}
    for round_index in range(rounds):
        order = ("numpy", "flat") if round_index % 2 == 0 else ("flat", "numpy")
        for name in order:
            searcher = numpy_searcher if name == "numpy" else flat
            (_, results[name]), seconds = _timed(lambda searcher=searcher: searcher.search(probes, k))
            timings[name].append(seconds)

    numpy_seconds = statistics.median(timings["numpy"])
    report["numpy_exact_queries_per_second"] = len(probes) / numpy_seconds
    report["faiss_flat_queries_per_second"] = len(probes) / statistics.median(timings["flat"])
    speedups = [numpy / flat for numpy, flat in zip(timings["numpy"], timings["flat"])]
    report["faiss_flat_speedup_over_numpy"] = statistics.median(speedups)
    report["faiss_flat_speedup_over_numpy_min"] = min(speedups)
    report["faiss_flat_speedup_over_numpy_max"] = max(speedups)
    report["faiss_flat_agrees_with_numpy"] = _recall_at_1(results["flat"], results["numpy"])
    return results["numpy"], numpy_seconds


def _tune(set_parameter, values, search, tuning_probes, tuning_exact, target_recall):
    """Return `(value, reached)`: the smallest value whose tuning recall@1 reaches `target_recall`.

    When none does, return the largest value and `reached=False`.
    """
    for value in values:
        set_parameter(value)
        _, indices = search(tuning_probes)
        if _recall_at_1(indices, tuning_exact) >= target_recall:
            return value, True
    return values[-1], False


def _approximate_row(search, probes, exact, numpy_seconds, k, rounds=3):
    timings = []
    for _ in range(rounds):
        (_, indices), seconds = _timed(lambda: search(probes, k))
        timings.append(seconds)
    seconds = statistics.median(timings)
    return {
        "queries_per_second": len(probes) / seconds,
        "speedup_over_numpy": numpy_seconds / seconds,
        "recall_at_1": _recall_at_1(indices, exact),
    }


def _hnsw(database, probes, exact, numpy_seconds, k, tuning, target_recall):
    from serving.search import FaissSearch

    hnsw, build_seconds = _timed(lambda: FaissSearch(database, index="hnsw"))
    parameters = hnsw.index.hnsw
    rows = [{"ef_search": parameters.efSearch,
             **_approximate_row(hnsw.search, probes, exact, numpy_seconds, k)}]
    tuned, reached = _tune(lambda value: setattr(parameters, "efSearch", value), HNSW_EF_SEARCH,
                           lambda queries: hnsw.search(queries, 1), *tuning, target_recall)
    parameters.efSearch = tuned
    rows.append({"ef_search": tuned, "reached_target": reached,
                 **_approximate_row(hnsw.search, probes, exact, numpy_seconds, k)})
    # Levels above 0 keep M neighbours per node (level 0 keeps 2 * M).
    return {"m": parameters.nb_neighbors(1), "build_seconds": build_seconds, "rows": rows}


def _ivf(database, probes, exact, numpy_seconds, k, tuning, target_recall, seed=2):
    import faiss

    # sqrt(N) lists is a common starting point for IVF. K-means trains on
    # a sample of 50 rows per list to keep the build short.
    lists = max(1, int(math.sqrt(len(database))))
    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFFlat(quantizer, DIM, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(
        len(database), size=min(len(database), lists * IVF_TRAINING_ROWS_PER_LIST), replace=False)

    start = time.perf_counter()
    index.train(database[np.sort(sample)])
    index.add(database)
    build_seconds = time.perf_counter() - start

    def search(queries, k):
        return index.search(queries, k)

    candidates = [2**power for power in range(int(math.log2(lists)) + 1)] + [lists]
    tuned, reached = _tune(lambda value: setattr(index, "nprobe", value), sorted(set(candidates)),
                           lambda queries: search(queries, 1), *tuning, target_recall)
    index.nprobe = tuned
    row = {"nprobe": tuned, "reached_target": reached, **_approximate_row(search, probes, exact, numpy_seconds, k)}
    return {"lists": lists, "build_seconds": build_seconds, "rows": [row]}


def run(rows, queries=1000, k=10, rounds=3, target_recall=0.9):
    """Run the search benchmark over a gallery of `rows` embeddings clustered by identity and return the report dict."""
    # Twice the queries: the second half tunes efSearch and nprobe.
    database, gallery_labels, all_probes, all_labels = identity_gallery(rows, 2 * queries, seed=0)
    probes, tuning_probes = all_probes[:queries], all_probes[queries:]
    report = {"rows": rows, "dim": DIM, "queries": queries, "k": k, "rounds": rounds,
              "gallery": (f"{max(1, rows // SAMPLES_PER_IDENTITY)} identities x {SAMPLES_PER_IDENTITY} "
                          f"samples: random unit centres plus Gaussian noise (sd {IDENTITY_NOISE} per "
                          "coordinate), normalised; queries are new samples of gallery identities"),
              "gallery_megabytes": database.nbytes / 2**20, "target_recall_at_1": target_recall}

    try:
        import faiss
    except ImportError:
        from serving.search import ExactSearch

        (_, _), seconds = _timed(lambda: ExactSearch(database).search(probes, k))
        report["numpy_exact_queries_per_second"] = queries / seconds
        report["faiss"] = "not installed: pip install 'beyond-zoo[faiss]'"
        return report

    report["faiss_version"] = faiss.__version__
    exact, numpy_seconds = _exact_against_flat(database, probes, k, rounds, report)
    # The share of queries whose exact first result is their own identity
    # shows that the clusters are tight enough to be searched for.
    report["numpy_identity_accuracy_at_1"] = float(np.mean(gallery_labels[exact[:, 0]] == all_labels[:queries]))

    # The tuning queries are separate from the timed ones, so the reported
    # recall is not the recall the parameter was chosen on.
    from serving.search import ExactSearch

    _, tuning_exact = ExactSearch(database).search(tuning_probes, 1)
    tuning = (tuning_probes, tuning_exact)
    report["faiss_hnsw"] = _hnsw(database, probes, exact, numpy_seconds, k, tuning, target_recall)
    report["faiss_ivf"] = _ivf(database, probes, exact, numpy_seconds, k, tuning, target_recall)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Gallery rows.")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved timings of NumPy and FAISS flat.")
    parser.add_argument("--target-recall", type=float, default=0.9,
                        help="Recall@1 the HNSW efSearch and the IVF nprobe are tuned to reach.")
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args(argv)
    if arguments.rows < 1 or arguments.queries < 1 or arguments.rounds < 1:
        parser.error("--rows, --queries and --rounds must be >= 1.")

    report = run(arguments.rows, arguments.queries, rounds=arguments.rounds, target_recall=arguments.target_recall)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
