"""Render a `zoo bench` JSON report as the Markdown tables of RESULTS.md."""


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _number(value, digits=2):
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def _spread(row, key, digits=2):
    """Format `key`'s median with its smallest and largest round, when the report has them."""
    if f"{key}_min" not in row:
        return _number(row[key], digits)
    return f"{_number(row[key], digits)} ({_number(row[f'{key}_min'], digits)}-{_number(row[f'{key}_max'], digits)})"


def _training_lines(training):
    lines = ["", "## Training step: zoo update-phase core against a hand-written train_step", "",
             "Both sides run the same networks, batches, optimizers and jit_compile setting in the same "
             "`fit` loop and update one Mean tracker per logged value, as the keras-io guides do; the zoo core "
             "also checks the phase losses and passes them through its loss-scale hook. "
             "Milliseconds are medians over interleaved rounds; the overhead is the median of the "
             "per-round ratios, with the smallest and largest round in brackets.", ""]
    rows = []
    for backend, backend_report in training["backends"].items():
        if "failed" in backend_report:
            rows.append([backend, "-", "-", "-", "-", backend_report["failed"][:80]])
            continue
        for row in backend_report["results"]:
            if "skipped" in row:
                rows.append([backend, row["model"], "-", "-", "-", row["skipped"][:80]])
                continue
            rows.append([backend, row["model"], row.get("jit_compile", "?"), _number(row["zoo_ms_per_step"]),
                         _number(row["reference_ms_per_step"]), _spread(row, "overhead")])
    lines += _table(["backend", "model", "jit_compile", "zoo ms/step", "reference ms/step",
                     "overhead (zoo / reference)"], rows)
    fastest = ", ".join(f"{model}: {backend}" for model, backend in training["fastest_backend"].items())
    lines += ["", f"Fastest backend per model (zoo step): {fastest}."]
    return lines


def _inference_lines(inference):
    if "results" not in inference:
        return ["", f"Inference benchmark failed: {inference.get('failed', '')[:200]}"]
    lines = ["", f"## Inference: {inference['model']}, backend {inference['backend']}", "",
             f"{_number(inference['mflops_per_image'])} MFLOP per image; NumPy float32 matmul "
             f"({inference.get('numpy_matmul_size', '?')} x {inference.get('numpy_matmul_size', '?')}) "
             f"rate {_number(inference['numpy_matmul_gflops'], 1)} GFLOP/s, median over batch sizes of the "
             "rate measured between each batch size's inference samples (per batch size in the table).", ""]
    rows = []
    for row in inference["results"]:
        images_per_second = _number(row["onnxruntime_images_per_second"], 0)
        if "onnxruntime_images_per_second_min" in row:
            images_per_second += (f" ({_number(row['onnxruntime_images_per_second_min'], 0)}-"
                                  f"{_number(row['onnxruntime_images_per_second_max'], 0)})")
        rows.append([row["batch_size"], images_per_second, _number(row["predict_over_onnxruntime"]),
                     _number(row["call_over_onnxruntime"]), _number(row["onnxruntime_gflops"], 1),
                     _number(row["numpy_matmul_gflops"], 1), _number(row["onnxruntime_fraction_of_matmul_peak"])])
    lines += _table(["batch", "onnxruntime images/s (range)", "predict time / onnxruntime",
                     "model(x) time / onnxruntime", "onnxruntime GFLOP/s", "matmul GFLOP/s",
                     "fraction of matmul rate"], rows)
    lines += ["", "Each sample repeats one call for at least "
              f"{_number(inference.get('min_seconds_per_sample', 0.2), 1)} s; figures are medians over "
              f"{inference.get('rounds', '?')} interleaved rounds. GFLOP/s counts the direct convolution "
              "FLOPs; onnxruntime may use cheaper algorithms (Winograd), so a fraction above 1 is possible."]
    return lines


def _untuned(row, parameter):
    """Return the label suffix of a tuned row whose search never reached the recall target."""
    if row.get("reached_target", True):
        return ""
    return f", largest {parameter} tried: recall@1 target not reached"


def _search_lines(search):
    lines = ["", f"## Gallery search: top-{search['k']} of {search['queries']} queries over "
             f"{search['rows']:,} x {search['dim']} float32", ""]
    if "gallery" in search:
        accuracy = search.get("numpy_identity_accuracy_at_1")
        found = "" if accuracy is None else (f" The exact first result has the query's identity for "
                                             f"{_number(accuracy, 3)} of the queries.")
        lines += [f"Gallery: {search['gallery']}.{found}", ""]
    else:
        lines += ["Gallery: i.i.d. random unit vectors (no cluster structure; the worst case for "
                  "approximate indexes).", ""]
    rows = [["NumPy exact (serving.search.ExactSearch)", "-", _number(search["numpy_exact_queries_per_second"], 0),
             "1.00", "1.000"]]
    if "faiss_flat_queries_per_second" not in search:
        rows.append(["FAISS", "-", "-", "-", search.get("faiss", "")])
        return lines + _table(["searcher", "build s", "queries/s", "speed-up over NumPy", "recall@1"], rows)

    rows.append(["FAISS IndexFlatIP (exact)", "-", _number(search["faiss_flat_queries_per_second"], 0),
                 _spread(search, "faiss_flat_speedup_over_numpy"),
                 _number(search["faiss_flat_agrees_with_numpy"], 3)])
    if "faiss_hnsw" in search:
        hnsw = search["faiss_hnsw"]
        shown_ef_search = set()
        for row in hnsw["rows"]:
            # When tuning keeps the default efSearch, both rows time the same search.
            if row["ef_search"] in shown_ef_search:
                continue
            shown_ef_search.add(row["ef_search"])
            rows.append([f"FAISS HNSW (M={hnsw['m']}, efSearch={row['ef_search']}{_untuned(row, 'efSearch')})",
                         _number(hnsw["build_seconds"], 1), _number(row["queries_per_second"], 0),
                         _number(row["speedup_over_numpy"]), _number(row["recall_at_1"], 3)])
        ivf = search["faiss_ivf"]
        for row in ivf["rows"]:
            rows.append([f"FAISS IVFFlat ({ivf['lists']} lists, nprobe={row['nprobe']}{_untuned(row, 'nprobe')})",
                         _number(ivf["build_seconds"], 1), _number(row["queries_per_second"], 0),
                         _number(row["speedup_over_numpy"]), _number(row["recall_at_1"], 3)])
    elif "faiss_hnsw_queries_per_second" in search:
        rows.append(["FAISS HNSW (M=32, efSearch=64)", _number(search["faiss_hnsw_build_seconds"], 1),
                     _number(search["faiss_hnsw_queries_per_second"], 0),
                     _number(search["faiss_hnsw_speedup_over_numpy"]), _number(search["faiss_hnsw_recall_at_1"], 3)])
    lines += _table(["searcher", "build s", "queries/s", "speed-up over NumPy", "recall@1"], rows)
    if "faiss_hnsw" in search:
        lines += ["", "The last HNSW row and the IVF row use the smallest efSearch or nprobe whose recall@1 "
                  f"reached {search['target_recall_at_1']} on a separate set of tuning queries (one HNSW row "
                  "means the default efSearch reached it); a row marked "
                  "\"target not reached\" used the largest value tried, none of which reached it. The FAISS flat "
                  f"speed-up is the median of {search['rounds']} interleaved rounds (smallest-largest in brackets)."]
    return lines


def to_markdown(report):
    """Return the report's tables as one Markdown string."""
    machine = report.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine.get('processor', '?')}, {machine.get('cpu_count', '?')} logical CPUs, "
        f"{machine.get('platform', '?')}, Python {machine.get('python', '?')}.",
        f"Command: `{report.get('command', 'zoo bench')}` from the repository root.",
        "Every figure below is a ratio of two timings taken side by side in the same run, or a median",
        "over rounds that alternate the two sides, so a change of machine load hits both alike.",
    ]

    if report.get("training"):
        lines += _training_lines(report["training"])
    if report.get("inference"):
        lines += _inference_lines(report["inference"])
    search = report.get("search")
    if search and "rows" in search:
        lines += _search_lines(search)
    elif search:
        lines += ["", f"Search benchmark failed: {search.get('failed', '')[:200]}"]

    startup = report.get("startup")
    if startup and "zoo_help_seconds" in startup:
        lines += ["", "## Start-up", "",
                  f"`zoo --help` takes {_number(startup['zoo_help_over_python'])} times as long as "
                  f"`python -c pass` ({_number(startup['zoo_help_seconds'], 3)} s against "
                  f"{_number(startup['python_seconds'], 3)} s, best of {startup['repeats']})."]
    return "\n".join(lines) + "\n"
