"""Measure the HTTP serving overhead against a direct onnxruntime session.

Run from the repository root (needs the `serve` extra):

    python benchmarks/serve_bench.py --requests 500 --concurrency 8
    python benchmarks/serve_bench.py --model artifacts/faces.onnx --requests 2000 --concurrency 32 --out bench.json

The script starts `zoo serve` on 127.0.0.1 on a free port. A second
process sends `--requests` embed requests of one image from
`--concurrency` client threads. This process also runs as many
single-image `session.run` calls from as many threads. It prints p50 and p99 latency and throughput for both, their
ratios (the serving overhead), and writes them as JSON to `--out`.
Without `--model` it builds the 8x8 test embedder of
`tests/serving/tiny_models.py`, which measures the server's own overhead
more than the model.
"""

import argparse
import base64
import concurrent.futures
import io
import json
import multiprocessing
import pathlib
import platform
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def summarize(latencies_s, wall_s):
    """Return p50 and p99 latency in ms and throughput in requests per second."""
    latencies = np.asarray(latencies_s) * 1000.0
    return {
        "requests": len(latencies),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "throughput_rps": len(latencies) / wall_s,
    }


def timed_calls(call, requests, concurrency):
    """Run `call()` `requests` times from `concurrency` threads; return latencies and wall time."""

    def one(_):
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(requests)))
    return latencies, time.perf_counter() - start


def drive_server(url, body, requests, concurrency, results):
    """Client process: send the embed requests and put the summary in `results`."""
    import httpx

    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        def call():
            response = client.post(url, json=body)
            if response.status_code != 200:
                raise RuntimeError(f"{url} returned {response.status_code}: {response.text[:200]}")

        for _ in range(min(20, requests)):
            call()
        latencies, wall = timed_calls(call, requests, concurrency)
    results.put(summarize(latencies, wall))


def example_image(height, width, channels):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue(), pixels.astype(np.float32)[None] / 255.0


def wait_ready(url, process, timeout_s=120):
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"zoo serve exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"zoo serve was not ready after {timeout_s} s")


def main():
    parser = argparse.ArgumentParser(description="HTTP serving overhead against direct onnxruntime.")
    parser.add_argument("--model", type=pathlib.Path, help="An embedder .onnx file. Default: the 8x8 test embedder.")
    parser.add_argument("--requests", type=int, default=500, help="Timed requests per side.")
    parser.add_argument("--concurrency", type=int, default=8, help="Client threads per side.")
    parser.add_argument("--max-batch", type=int, default=32, help="Server --max-batch.")
    parser.add_argument("--max-wait-ms", type=float, default=2.0, help="Server --max-wait-ms.")
    parser.add_argument("--cpu", action="store_true", help="Run both sides on the CPU even where CUDA is usable.")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("serve_bench.json"), help="JSON report file.")
    arguments = parser.parse_args()

    from serving import Embedder
    from serving.runtime import atomic_write_bytes

    with tempfile.TemporaryDirectory() as folder:
        model = arguments.model
        if model is None:
            from tests.serving import tiny_models

            model = tiny_models.build_embedder(pathlib.Path(folder) / "embedder.onnx")

        providers = ["CPUExecutionProvider"] if arguments.cpu else None
        embedder = Embedder(model, providers=providers)
        png, batch = example_image(*embedder.input_shape)

        # Direct: one single-image session run per request, from the same number of threads.
        session = embedder.model.session
        for _ in range(20):
            session.run(["embeddings"], {"images": batch})
        latencies, wall = timed_calls(lambda: session.run(["embeddings"], {"images": batch}), arguments.requests, arguments.concurrency)
        direct = summarize(latencies, wall)

        # Served: the same requests through HTTP, driven from a second process.
        port = free_port()
        command = [
            sys.executable, "-c", "from zoo.cli import main; main()", "--quiet", "serve", str(model),
            "--port", str(port), "--max-batch", str(arguments.max_batch), "--max-wait-ms", str(arguments.max_wait_ms),
        ]
        if arguments.cpu:
            command.append("--cpu")
        server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, server)
            body = {"images": [base64.b64encode(png).decode("ascii")]}
            results = multiprocessing.get_context("spawn").Queue()
            client = multiprocessing.get_context("spawn").Process(
                target=drive_server,
                args=(f"{base_url}/models/{pathlib.Path(model).stem}/embed", body, arguments.requests, arguments.concurrency, results),
            )
            client.start()
            served = results.get(timeout=600)
            client.join()
        finally:
            server.terminate()
            server.wait(timeout=30)

    report = {
        "model": str(arguments.model or "tests/serving/tiny_models.build_embedder"),
        "provider": embedder.model.provider,
        "requests": arguments.requests,
        "concurrency": arguments.concurrency,
        "max_batch": arguments.max_batch,
        "max_wait_ms": arguments.max_wait_ms,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version()},
        "direct": direct,
        "served": served,
        "overhead": {
            "p50_ratio": served["p50_ms"] / direct["p50_ms"],
            "p99_ratio": served["p99_ms"] / direct["p99_ms"],
            "throughput_ratio": served["throughput_rps"] / direct["throughput_rps"],
        },
    }
    atomic_write_bytes(arguments.out, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    print(f"{'':8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    for side in ("direct", "served"):
        row = report[side]
        print(f"{side:8}{row['p50_ms']:10.3f}{row['p99_ms']:10.3f}{row['throughput_rps']:10.1f}")
    overhead = report["overhead"]
    print(f"served/direct: p50 x{overhead['p50_ratio']:.1f}, p99 x{overhead['p99_ratio']:.1f}, throughput x{overhead['throughput_ratio']:.2f}")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
