"""Render a `zoo bench` JSON report as the Markdown tables of RESULTS.md."""


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _number(value, digits=2):
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def to_markdown(report):
    """Return the report's tables as one Markdown string."""
    machine = report.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine.get('processor', '?')}, {machine.get('cpu_count', '?')} logical CPUs, "
        f"{machine.get('platform', '?')}, Python {machine.get('python', '?')}.",
        f"Command: `{report.get('command', 'zoo bench')}` from the repository root.",
        "Every figure below is a ratio of two timings taken side by side in the same run.",
        "On a machine shared with other jobs single timings vary by tens of percent, so compare",
        "ratios across repeated runs before trusting a difference below about 1.5x.",
    ]

    training = report.get("training")
    if training:
        lines += ["", "## Training step: zoo update-phase core against a hand-written train_step", ""]
        rows = []
        for backend, backend_report in training["backends"].items():
            if "failed" in backend_report:
                rows.append([backend, "-", "-", "-", backend_report["failed"][:80]])
                continue
            for row in backend_report["results"]:
                if "skipped" in row:
                    rows.append([backend, row["model"], "-", "-", row["skipped"][:80]])
                    continue
                rows.append([backend, row["model"], _number(row["zoo_ms_per_step"]),
                             _number(row["reference_ms_per_step"]), _number(row["overhead"])])
        lines += _table(["backend", "model", "zoo ms/step", "reference ms/step", "overhead (zoo / reference)"], rows)
        fastest = ", ".join(f"{model}: {backend}" for model, backend in training["fastest_backend"].items())
        lines += ["", f"Fastest backend per model (zoo step): {fastest}."]

    inference = report.get("inference")
    if inference and "results" in inference:
        lines += ["", f"## Inference: {inference['model']}, backend {inference['backend']}", "",
                  f"{_number(inference['mflops_per_image'])} MFLOP per image; NumPy float32 matmul "
                  f"rate {_number(inference['numpy_matmul_gflops'], 1)} GFLOP/s.", ""]
        rows = [[row["batch_size"], _number(row["onnxruntime_images_per_second"], 0),
                 _number(row["predict_over_onnxruntime"]), _number(row["call_over_onnxruntime"]),
                 _number(row["onnxruntime_gflops"], 1), _number(row["onnxruntime_fraction_of_matmul_peak"])]
                for row in inference["results"]]
        lines += _table(["batch", "onnxruntime images/s", "predict time / onnxruntime",
                         "model(x) time / onnxruntime", "onnxruntime GFLOP/s", "fraction of matmul rate"], rows)
        lines += ["", "GFLOP/s counts the direct convolution FLOPs; onnxruntime may use cheaper algorithms "
                  "(Winograd), so a fraction above 1 is possible."]
    elif inference:
        lines += ["", f"Inference benchmark failed: {inference.get('failed', '')[:200]}"]

    search = report.get("search")
    if search and "rows" in search:
        lines += ["", f"## Gallery search: top-{search['k']} of {search['queries']} queries over "
                  f"{search['rows']:,} x {search['dim']} float32", ""]
        rows = [["NumPy exact (serving.search.ExactSearch)", _number(search["numpy_exact_queries_per_second"], 0),
                 "1.00", "1.000"]]
        if "faiss_flat_queries_per_second" in search:
            rows.append(["FAISS IndexFlatIP (exact)", _number(search["faiss_flat_queries_per_second"], 0),
                         _number(search["faiss_flat_speedup_over_numpy"]),
                         _number(search["faiss_flat_agrees_with_numpy"], 3)])
            rows.append(["FAISS HNSW (M=32, efSearch=64)", _number(search["faiss_hnsw_queries_per_second"], 0),
                         _number(search["faiss_hnsw_speedup_over_numpy"]),
                         _number(search["faiss_hnsw_recall_at_1"], 3)])
        else:
            rows.append(["FAISS", "-", "-", search.get("faiss", "")])
        lines += _table(["searcher", "queries/s", "speed-up over NumPy", "recall@1"], rows)

    startup = report.get("startup")
    if startup and "zoo_help_seconds" in startup:
        lines += ["", "## Start-up", "",
                  f"`zoo --help` takes {_number(startup['zoo_help_over_python'])} times as long as "
                  f"`python -c pass` ({_number(startup['zoo_help_seconds'], 3)} s against "
                  f"{_number(startup['python_seconds'], 3)} s, best of {startup['repeats']})."]
    return "\n".join(lines) + "\n"
