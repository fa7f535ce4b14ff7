"""Train a model on one device, then data-parallel, and print the weight gap.

Run as a script in a fresh process, because the device count is fixed when
the backend starts: `XLA_FLAGS=--xla_force_host_platform_device_count=2`
for JAX, two logical CPUs for TensorFlow (set up below).

Usage: `python -m tests.scale.parallel_steps toy|triplet|linear`. Prints one JSON
object: `replicas`, `max_weight_difference`, `max_weight_change`.
"""

import json
import os
import sys

import numpy as np

BATCH_SIZE = 8
STEPS = 3


def _split_cpu_for_tensorflow():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )


def _toy():
    from tests.core.toy_models import ToyTwoPhase, make_data

    model = ToyTwoPhase()
    model.compile()
    return model, make_data(BATCH_SIZE * STEPS)


def _linear():
    """One phase, no BatchNorm and a per-example mean loss.

    TensorFlow runs the step per replica, so only a loss like this one has
    the same gradient as the whole batch there.
    """
    import keras
    from keras import ops

    from zoo.core import PhaseModel, UpdatePhase

    class Linear(PhaseModel):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, kernel_initializer="ones", name="dense")
            self.dense.build((None, 3))
            self.add_trackers(["mse"])
            self.built = True

        def update_phases(self):
            return [UpdatePhase("dense", self.mse, lambda: self.dense.trainable_variables)]

        def default_optimizers(self):
            return {"dense": keras.optimizers.Adam(0.05)}

        def mse(self, data, training):
            x, y = data
            loss = ops.mean(ops.square(self.dense(x) - y))
            return loss, {"mse": loss}

    from tests.core.toy_models import make_data

    model = Linear()
    model.compile()
    return model, make_data(BATCH_SIZE * STEPS)


def _triplet():
    import keras

    from zoo.metric import TripletModel, build_embedder

    keras.utils.set_random_seed(3)
    embedder = build_embedder(input_shape=(8, 8, 1), embedding_dim=8, widths=(4,))
    model = TripletModel(embedder, margin=0.2, mining="batch_all")
    model.compile(optimizer=keras.optimizers.SGD(0.05))

    rng = np.random.default_rng(4)
    images = rng.uniform(size=(BATCH_SIZE * STEPS, 8, 8, 1)).astype("float32")
    # Each batch of 8 holds 4 people x 2 photos, so every anchor has a positive.
    labels = np.tile(np.repeat(np.arange(4), 2), STEPS).astype("int32")
    return model, (images, labels)


def _train(kind):
    import keras

    model, (x, y) = {"toy": _toy, "triplet": _triplet, "linear": _linear}[kind]()
    before = [keras.ops.convert_to_numpy(v) for v in model.weights]
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    after = [keras.ops.convert_to_numpy(v) for v in model.weights]
    change = max(float(np.abs(a - b).max()) for a, b in zip(after, before))
    return after, change


def _replicas():
    import keras

    if keras.backend.backend() == "jax":
        return len(keras.distribution.distribution().device_mesh.devices.flatten())
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def main(kind):
    if os.environ.get("KERAS_BACKEND") == "tensorflow":
        _split_cpu_for_tensorflow()

    from recipes.runner import scaled_training

    single, change = _train(kind)
    with scaled_training(distribute="data-parallel"):
        replicas = _replicas()
        parallel, _ = _train(kind)

    difference = max(float(np.abs(a - b).max()) for a, b in zip(single, parallel))
    print(json.dumps({
        "replicas": replicas,
        "max_weight_difference": difference,
        "max_weight_change": change,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
