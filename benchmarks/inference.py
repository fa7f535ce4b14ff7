"""Inference benchmark: onnxruntime against `model.predict` and `model(x)`.

    KERAS_BACKEND=tensorflow python -m benchmarks.inference --out inference.json

The model is the face embedder of `triplet-faces` (untrained weights give
the same speed). It is exported with `keras.Model.export(format="onnx")`.
Each path embeds batches of 1, 32 and 256 images; the achieved GFLOP/s
(multiply-adds count as 2 FLOPs, convolutions and dense layers only) is set
against the float32 matmul rate NumPy measures on the same machine.
"""

import argparse
import json
import tempfile
import time

import numpy as np

BATCH_SIZES = (1, 32, 256)


def matmul_gflops(size=2048, repeats=5):
    """Measure NumPy's float32 matmul rate in GFLOP/s (best of `repeats`)."""
    a = np.random.default_rng(0).normal(size=(size, size)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def model_flops(model):
    """Count the FLOPs of one image through the Conv2D and Dense layers."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kernel_height, kernel_width, channels, _ = layer.kernel.shape
            flops += 2 * height * width * filters * kernel_height * kernel_width * channels
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            flops += 2 * inputs * units
    return flops


def _best_seconds(function, repeats):
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def run(repeats=5):
    import keras
    import onnxruntime

    from zoo.metric import build_embedder

    keras.utils.set_random_seed(0)
    model = build_embedder(input_shape=(112, 92, 1), embedding_dim=64, widths=(32, 64, 128),
                           working_size=(56, 46))
    flops = model_flops(model)
    # Keras exports only a model that has been called once.
    model(np.zeros((1, 112, 92, 1), np.float32))
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/embedder.onnx"
        model.export(path, format="onnx", verbose=False)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    peak = matmul_gflops()
    rows = []
    for batch_size in BATCH_SIZES:
        images = np.random.default_rng(1).uniform(size=(batch_size, 112, 92, 1)).astype(np.float32)
        timings = {
            "onnxruntime": _best_seconds(lambda: session.run(None, {input_name: images}), repeats),
            "predict": _best_seconds(lambda: model.predict(images, batch_size=batch_size, verbose=0), repeats),
            "call": _best_seconds(lambda: keras.ops.convert_to_numpy(model(images, training=False)), repeats),
        }
        row = {"batch_size": batch_size}
        for path_name, seconds in timings.items():
            row[f"{path_name}_images_per_second"] = batch_size / seconds
            row[f"{path_name}_gflops"] = flops * batch_size / seconds / 1e9
        row["predict_over_onnxruntime"] = timings["predict"] / timings["onnxruntime"]
        row["call_over_onnxruntime"] = timings["call"] / timings["onnxruntime"]
        row["onnxruntime_fraction_of_matmul_peak"] = row["onnxruntime_gflops"] / peak
        rows.append(row)
    return {
        "backend": keras.backend.backend(),
        "onnxruntime_version": onnxruntime.__version__,
        "model": "triplet-faces embedder, 112x92x1 -> 64, widths (32, 64, 128)",
        "mflops_per_image": flops / 1e6,
        "numpy_matmul_gflops": peak,
        "results": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args(argv)
    report = run(arguments.repeats)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
