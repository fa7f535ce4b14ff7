"""Inference benchmark: onnxruntime against `model.predict` and `model(x)`.

    KERAS_BACKEND=tensorflow python -m benchmarks.inference --rounds 5 --out inference.json

The model is the face embedder of `triplet-faces` (untrained weights give
the same speed). It is exported with `keras.Model.export(format="onnx")`.
Each path embeds batches of 1, 32 and 256 images; the achieved GFLOP/s
(multiply-adds count as 2 FLOPs, convolutions and dense layers only) is set
against the float32 matmul rate NumPy measures on the same machine.

Timing method: one sample of a path repeats its call until `min_seconds`
have passed and divides by the number of calls. So a call of 1 ms and a
call of 100 ms are both averaged over the same stretch of time. Each round
takes one sample of every path and of the NumPy matmul, in a rotating
order, and the report gives medians over rounds. The fraction of the matmul
rate divides onnxruntime's median GFLOP/s by the median matmul rate of the
same batch size's rounds.
The best single call would favour short calls instead. On a shared
machine a 1.5 ms call at batch 1 often finds both cores free, and a 100 ms
call rarely does. That bias once showed batch 1 at 3.7 times a matmul rate
timed under load.
"""

import argparse
import json
import statistics
import tempfile
import time

import numpy as np

BATCH_SIZES = (1, 32, 256)
MATMUL_SIZE = 1024
PATHS = ("onnxruntime", "predict", "call")


def _seconds_per_call(function, min_seconds):
    """Call `function` until `min_seconds` have passed and return the mean seconds per call."""
    calls = 0
    start = time.perf_counter()
    while True:
        function()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def _matmul_function(size=MATMUL_SIZE):
    matrix = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    return lambda: matrix @ matrix, 2 * size**3


def _conv_flops(layer):
    # A 'same' or 'valid' Conv2D does kernel_height * kernel_width *
    # in_channels multiply-adds for each output value.
    _, height, width, filters = layer.output.shape
    kernel_height, kernel_width, channels, _ = layer.kernel.shape
    return 2 * height * width * filters * kernel_height * kernel_width * channels


def model_flops(model):
    """Count the FLOPs of one image through the Conv2D and Dense layers, nested models included.

    Hand check of one layer of the benchmark's embedder: `block2_conv2`
    maps 28 x 23 x 64 to 28 x 23 x 64 with a 3 x 3 kernel, so it does
    28 * 23 * 64 * (3 * 3 * 64) = 23.74 M multiply-adds, 47.48 MFLOP.
    """
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops += model_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            flops += _conv_flops(layer)
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            flops += 2 * inputs * units
    return flops


def _export_session(model, folder):
    import onnxruntime

    path = f"{folder}/embedder.onnx"
    model.export(path, format="onnx", verbose=False)
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def _path_functions(model, session, images):
    import keras

    input_name = session.get_inputs()[0].name
    return {
        "onnxruntime": lambda: session.run(None, {input_name: images}),
        "predict": lambda: model.predict(images, batch_size=len(images), verbose=0),
        "call": lambda: keras.ops.convert_to_numpy(model(images, training=False)),
    }


def _measure_batch(functions, matmul, rounds, min_seconds):
    """Take `rounds` interleaved samples of every path and of the matmul, as lists of seconds per call."""
    samples = {name: [] for name in (*PATHS, "matmul")}
    names = list(samples)
    for function in functions.values():
        function()
    for round_index in range(rounds):
        # Rotate the order so no path always runs right after the same one.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            function = matmul if name == "matmul" else functions[name]
            samples[name].append(_seconds_per_call(function, min_seconds))
    return samples


def _batch_row(batch_size, samples, flops, matmul_flops):
    row = {"batch_size": batch_size}
    for name in PATHS:
        seconds = statistics.median(samples[name])
        row[f"{name}_images_per_second"] = batch_size / seconds
        row[f"{name}_gflops"] = flops * batch_size / seconds / 1e9
    row["onnxruntime_images_per_second_min"] = batch_size / max(samples["onnxruntime"])
    row["onnxruntime_images_per_second_max"] = batch_size / min(samples["onnxruntime"])

    # Ratios per round, so a load change during one round cancels out.
    for name in ("predict", "call"):
        ratios = [ours / onnx for ours, onnx in zip(samples[name], samples["onnxruntime"])]
        row[f"{name}_over_onnxruntime"] = statistics.median(ratios)
    row["numpy_matmul_gflops"] = matmul_flops / statistics.median(samples["matmul"]) / 1e9

    # The ratio of this row's two medians, so the table's columns agree.
    # A median of per-round ratios can differ several times over when one
    # slow matmul sample meets a fast onnxruntime one.
    row["onnxruntime_fraction_of_matmul_peak"] = row["onnxruntime_gflops"] / row["numpy_matmul_gflops"]
    return row


def run(rounds=5, min_seconds=0.2):
    import keras
    import onnxruntime

    from zoo.metric import build_embedder

    keras.utils.set_random_seed(0)
    model = build_embedder(input_shape=(112, 92, 1), embedding_dim=64, widths=(32, 64, 128),
                           working_size=(56, 46))
    # Keras exports only a model that has been called once.
    model(np.zeros((1, 112, 92, 1), np.float32))
    flops = model_flops(model)
    with tempfile.TemporaryDirectory() as folder:
        session = _export_session(model, folder)
    matmul, matmul_flops = _matmul_function()

    rows = []
    for batch_size in BATCH_SIZES:
        images = np.random.default_rng(1).uniform(size=(batch_size, 112, 92, 1)).astype(np.float32)
        samples = _measure_batch(_path_functions(model, session, images), matmul, rounds, min_seconds)
        rows.append(_batch_row(batch_size, samples, flops, matmul_flops))
    return {
        "backend": keras.backend.backend(),
        "onnxruntime_version": onnxruntime.__version__,
        "model": "triplet-faces embedder, 112x92x1 -> 64, widths (32, 64, 128)",
        "mflops_per_image": flops / 1e6,
        "numpy_matmul_size": MATMUL_SIZE,
        "numpy_matmul_gflops": statistics.median(row["numpy_matmul_gflops"] for row in rows),
        "rounds": rounds,
        "min_seconds_per_sample": min_seconds,
        "results": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved samples of each path.")
    parser.add_argument("--min-seconds", type=float, default=0.2,
                        help="Seconds each sample repeats its call for, at least one call.")
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args(argv)
    if arguments.rounds < 1:
        parser.error(f"--rounds must be >= 1. Received: {arguments.rounds}")

    report = run(arguments.rounds, arguments.min_seconds)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
