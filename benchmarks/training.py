"""Training benchmark: the zoo's update-phase `fit` step against a hand-written step.

Run under one backend (the `zoo bench training` command runs one process
per installed backend):

    KERAS_BACKEND=jax python -m benchmarks.training --steps 20 --out training-jax.json

For each model the two steps alternate (ours, reference, ours, reference)
on the same batches, after one warm-up epoch each that compiles them, and
the faster of the two rounds counts. `overhead` is our time per step over
the reference time per step: 1.0 means no cost.
"""

import argparse
import json
import time

import numpy as np

BATCH_SIZE = 32


def _toy():
    from tests.core.toy_models import ToyTwoPhase

    rng = np.random.default_rng(0)
    return ToyTwoPhase(), (rng.normal(size=(BATCH_SIZE, 3)).astype("float32"),
                           rng.normal(size=(BATCH_SIZE, 2)).astype("float32"))


def _triplet():
    from zoo.metric import TripletModel, build_embedder

    rng = np.random.default_rng(0)
    embedder = build_embedder(input_shape=(56, 46, 1), embedding_dim=64, widths=(16, 32, 64))
    images = rng.uniform(size=(BATCH_SIZE, 56, 46, 1)).astype("float32")
    labels = np.repeat(np.arange(BATCH_SIZE // 4), 4).astype("int32")
    return TripletModel(embedder, mining="batch_all"), (images, labels)


def _vae():
    from zoo.autoencoder import VAE

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(BATCH_SIZE, 28, 28, 1)).astype("float32")
    return VAE(input_shape=(28, 28, 1), latent_dim=16), (images,)


def _dcgan():
    from zoo.gan import DCGAN

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(BATCH_SIZE, 28, 28, 1)).astype("float32")
    return DCGAN(latent_dim=32, image_shape=(28, 28, 1), filters=16), (images,)


MODELS = {"toy": _toy, "triplet": _triplet, "vae": _vae, "dcgan": _dcgan}


def _seconds_per_step(model, data, steps):
    # A repeated in-memory batch keeps the input pipeline out of the timing.
    repeated = tuple(np.concatenate([array] * steps) for array in data)
    arguments = (repeated[0], repeated[1]) if len(repeated) == 2 else (repeated[0],)
    model.fit(*arguments, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    start = time.perf_counter()
    model.fit(*arguments, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    return (time.perf_counter() - start) / steps


def benchmark_model(name, steps, rounds=2):
    """Time our step and the reference step of model `name`; return a result dict."""
    import keras

    from benchmarks.reference_steps import ReferenceStep

    keras.utils.set_random_seed(0)
    model, data = MODELS[name]()
    model.compile()
    reference = ReferenceStep(model)
    reference.compile_reference()

    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_seconds_per_step(model, data, steps))
        theirs.append(_seconds_per_step(reference, data, steps))
    ours_best, reference_best = min(ours), min(theirs)
    return {
        "model": name,
        "steps": steps,
        "batch_size": BATCH_SIZE,
        "zoo_ms_per_step": 1000 * ours_best,
        "reference_ms_per_step": 1000 * reference_best,
        "overhead": ours_best / reference_best,
    }


def run(models, steps):
    import keras

    results = []
    for name in models:
        try:
            results.append(benchmark_model(name, steps))
        except ImportError as error:
            results.append({"model": name, "skipped": f"not available: {error}"})
    return {"backend": keras.backend.backend(), "keras_version": keras.__version__, "results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated subset of %(default)s.")
    parser.add_argument("--steps", type=int, default=20, help="Training steps per timed epoch.")
    parser.add_argument("--out", required=True, help="JSON file to write.")
    arguments = parser.parse_args(argv)
    report = run(arguments.models.split(","), arguments.steps)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    for row in report["results"]:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
