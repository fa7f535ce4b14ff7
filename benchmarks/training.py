"""Training benchmark: the zoo's update-phase `fit` step against a hand-written step.

Run under one backend (the `zoo bench training` command runs one process
per installed backend):

    KERAS_BACKEND=jax python -m benchmarks.training --steps 20 --rounds 5 --out training-jax.json

Both sides do the same work: the same networks (the reference shares the
zoo model's variables), the same batches, new instances of the same
optimizers from `default_optimizers()`, the same `jit_compile` setting and
the same `fit` loop with `steps` batches per epoch. A callback times the
steps after the first of each epoch, so `fit`'s per-epoch set-up (data
adapter, callbacks, tracker resets, the History logs) stays out of the
per-step figure. Each side first runs
two untimed epochs, the first of which compiles its step. Then `rounds`
timed rounds follow, each timing one epoch of both sides back to back, in
the order zoo, reference in even rounds and reference, zoo in odd rounds,
so a change of machine load hits both sides alike. `overhead` is the
median over rounds of the per-round ratio zoo time / reference time
(1.0 means no cost), reported with its smallest and largest round.

Both sides also average the loss and every logged value into
`keras.metrics.Mean` trackers, as the keras-io guides do. The difference in
work that remains is the zoo core's own: it checks each phase loss, passes
it through the loss-scale hook and looks the phases up by name (see
`benchmarks/reference_steps.py`).
"""

import argparse
import json
import statistics
import time

import numpy as np

BATCH_SIZE = 32
WARMUP_EPOCHS = 2


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


def _step_timer_class():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Time the steps after the first one of an epoch, leaving out `fit`'s set-up and tear-down.

        The logs of the first and the last step are converted to NumPy,
        which waits for JAX's asynchronous dispatch to finish them, and
        the time between those two points is divided by `steps - 1`.
        """

        def __init__(self, steps):
            super().__init__()
            self.steps = steps
            self.start = None
            self.seconds_per_step = None

        def on_train_batch_end(self, batch, logs=None):
            if batch not in (0, self.steps - 1):
                return
            for value in (logs or {}).values():
                keras.ops.convert_to_numpy(value)
            now = time.perf_counter()
            if batch == 0:
                self.start = now
            else:
                self.seconds_per_step = (now - self.start) / (self.steps - 1)

    return StepTimer


def _epoch_function(model, data, steps):
    """Return a function that runs one `fit` epoch of `steps` batches and returns its seconds per step."""
    # One batch repeated in memory keeps the input pipeline the same on
    # both sides and cheap next to the step.
    repeated = tuple(np.concatenate([array] * steps) for array in data)
    x = repeated[0]
    y = repeated[1] if len(repeated) == 2 else None
    timer = _step_timer_class()(steps)

    def run_epoch():
        model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
        return timer.seconds_per_step

    return run_epoch


def _optimizer_summary(phase_optimizer):
    return {
        phase: f"{type(optimizer).__name__}(learning_rate={float(optimizer.learning_rate):g})"
        for phase, optimizer in phase_optimizer.optimizers_by_phase.items()
    }


def benchmark_model(name, steps, rounds):
    """Time the zoo step and the reference step of model `name` in interleaved rounds.

    Returns:
        A dict with the median milliseconds per step of each side, the
        median per-round overhead ratio and its smallest and largest value.
    """
    import keras

    from benchmarks.reference_steps import ReferenceStep

    keras.utils.set_random_seed(0)
    model, data = MODELS[name]()
    model.compile()

    # Keras resolves jit_compile="auto" per model, so copy the resolved value
    # to the reference instead of trusting both to resolve it alike.
    jit_compile = bool(model.jit_compile)
    reference = ReferenceStep(model)
    reference.compile_reference(jit_compile=jit_compile)

    zoo_epoch = _epoch_function(model, data, steps)
    reference_epoch = _epoch_function(reference, data, steps)
    for _ in range(WARMUP_EPOCHS):
        zoo_epoch()
        reference_epoch()

    zoo_seconds, reference_seconds = [], []
    for round_index in range(rounds):
        if round_index % 2 == 0:
            zoo_seconds.append(zoo_epoch())
            reference_seconds.append(reference_epoch())
        else:
            reference_seconds.append(reference_epoch())
            zoo_seconds.append(zoo_epoch())

    ratios = [ours / theirs for ours, theirs in zip(zoo_seconds, reference_seconds)]
    return {
        "model": name,
        "steps": steps,
        "rounds": rounds,
        "batch_size": BATCH_SIZE,
        "jit_compile": jit_compile,
        "reference_jit_compile": bool(reference.jit_compile),
        "optimizers": _optimizer_summary(model.optimizer),
        "reference_optimizers": _optimizer_summary(reference.optimizer),
        "zoo_ms_per_step": 1000 * statistics.median(zoo_seconds),
        "reference_ms_per_step": 1000 * statistics.median(reference_seconds),
        "overhead": statistics.median(ratios),
        "overhead_min": min(ratios),
        "overhead_max": max(ratios),
        "overhead_per_round": ratios,
    }


def run(models, steps, rounds):
    import keras

    results = []
    for name in models:
        try:
            results.append(benchmark_model(name, steps, rounds))
        except ImportError as error:
            results.append({"model": name, "skipped": f"not available: {error}"})
    return {"backend": keras.backend.backend(), "keras_version": keras.__version__, "results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated subset of %(default)s.")
    parser.add_argument("--steps", type=int, default=20, help="Training steps per timed epoch.")
    parser.add_argument("--rounds", type=int, default=5, help="Timed epochs of each side, interleaved.")
    parser.add_argument("--out", required=True, help="JSON file to write.")
    arguments = parser.parse_args(argv)
    if arguments.steps < 2 or arguments.rounds < 1:
        parser.error(f"--steps must be >= 2 and --rounds >= 1. Received: {arguments.steps}, {arguments.rounds}")

    report = run(arguments.models.split(","), arguments.steps, arguments.rounds)
    with open(arguments.out, "w") as stream:
        json.dump(report, stream, indent=2)
    for row in report["results"]:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
