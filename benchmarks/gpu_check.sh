#!/usr/bin/env bash
# GPU check: train each recipe for a few hundred steps under each installed
# backend, export the runs, run the ONNX artifacts with onnxruntime's CUDA
# provider and print images per second on the GPU beside the CPU figures.
#
# Run from the repository root on a machine with an NVIDIA GPU:
#   bash benchmarks/gpu_check.sh [STEPS]        (default 300 steps per recipe)
# Fails when nvidia-smi is absent, when onnxruntime has no CUDA provider,
# or when a session silently falls back to the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${1:-300}"
work="${GPU_CHECK_DIR:-gpu-check}"

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: nvidia-smi not found, so this machine has no usable NVIDIA GPU." >&2
    echo "Run this script on a GPU machine; CPU benchmarks are in 'zoo bench'." >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

python - <<'PY'
import sys
import onnxruntime
providers = onnxruntime.get_available_providers()
if "CUDAExecutionProvider" not in providers:
    sys.exit(f"gpu_check: onnxruntime {onnxruntime.__version__} has no CUDAExecutionProvider "
             f"(available: {providers}). Install onnxruntime-gpu with a matching CUDA.")
PY

backends=$(python -c "import importlib.util as u; print(' '.join(b for b in ('tensorflow', 'jax', 'torch') if u.find_spec(b)))")
recipes=$(python -c "from recipes import RECIPES; print(' '.join(RECIPES))")
mkdir -p "$work"

for backend in $backends; do
    for recipe in $recipes; do
        run="$work/$backend/$recipe"
        rm -rf "$run"
        echo "=== $recipe under $backend: $steps steps ==="
        # One epoch of about `steps` updates: recipes with a P x K sampler take
        # steps_per_epoch, the others a train_limit of steps x batch_size images.
        limit=$(python -c "
from recipes.runner import get_recipe
d = get_recipe('$recipe').defaults
if 'steps_per_epoch' in d: print('steps_per_epoch=$steps')
elif 'train_limit' in d and 'batch_size' in d: print('train_limit=%d' % ($steps * d['batch_size']))
")
        start=$(date +%s)
        zoo --backend "$backend" train "$recipe" --out "$run/run" --epochs 1 \
            ${limit:+--set "$limit"} --no-evaluate \
            || { echo "FAILED: training $recipe under $backend"; continue; }
        echo "trained in $(( $(date +%s) - start )) s"
        zoo --backend "$backend" export "$run/run" --out "$run/artifacts" \
            || { echo "FAILED: exporting $recipe under $backend"; continue; }
    done
done

python - "$work" <<'PY'
import pathlib
import sys
import time

import numpy as np
import onnxruntime

BATCH = 64


def images_per_second(session, feed, batch):
    session.run(None, feed)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - start)
    return batch / best


failures = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.onnx")):
    gpu = onnxruntime.InferenceSession(str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    if gpu.get_providers()[0] != "CUDAExecutionProvider":
        print(f"FAILED: {path} fell back to {gpu.get_providers()}")
        failures += 1
        continue
    cpu = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {}
    for node in gpu.get_inputs():
        shape = [BATCH if not isinstance(size, int) else size for size in node.shape]
        feed[node.name] = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    gpu_rate = images_per_second(gpu, feed, BATCH)
    cpu_rate = images_per_second(cpu, feed, BATCH)
    print(f"{path}: CUDA {gpu_rate:,.0f} images/s, CPU {cpu_rate:,.0f} images/s, ratio {gpu_rate / cpu_rate:.1f}")
sys.exit(1 if failures else 0)
PY
