"""A toy two-phase model and its NumPy reference, used by the core tests."""

import keras
import numpy as np
from keras import ops

from zoo.core import PhaseModel, UpdatePhase

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-3
SGD_LEARNING_RATE = 0.1
ADAM_LEARNING_RATE = 0.01
NOISE_SCALE = 0.1
SEED = 7


def initial_weights():
    """Fixed weights for both dense layers, so every backend starts equal."""
    rng = np.random.default_rng(0)
    return {
        "dense_a_kernel": rng.normal(size=(3, 2)).astype("float32"),
        "dense_a_bias": np.zeros(2, "float32"),
        "dense_b_kernel": rng.normal(size=(3, 2)).astype("float32"),
        "dense_b_bias": np.zeros(2, "float32"),
    }


def counter_noise(counter, shape):
    """Noise computed from the seed generator's counter.

    Backends draw different numbers from `keras.random.normal` for the same
    seed, so the parity test uses noise that is a pure function of the seed
    state instead. It still changes every step only if the seed state
    advances inside the compiled step.
    """
    rows, cols = shape
    phases = ops.reshape(ops.arange(rows * cols, dtype="float32"), (rows, cols))
    return ops.sin((ops.cast(counter, "float32") + 1.0) * (phases + 1.0) * 0.37)


def counter_noise_numpy(counter, shape):
    rows, cols = shape
    phases = np.arange(rows * cols, dtype="float64").reshape(rows, cols)
    return np.sin((counter + 1.0) * (phases + 1.0) * 0.37)


class ToyTwoPhase(PhaseModel):
    """Phase "encoder": Dense + BatchNorm, SGD. Phase "noisy": Dense on
    noisy inputs, Adam, run twice per step on two halves of the batch."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        weights = initial_weights()
        self.dense_a = keras.layers.Dense(2, name="dense_a")
        self.norm = keras.layers.BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="norm"
        )
        self.dense_b = keras.layers.Dense(2, name="dense_b")
        self.dense_a.build((None, 3))
        self.norm.build((None, 2))
        self.dense_b.build((None, 3))
        self.dense_a.set_weights([weights["dense_a_kernel"], weights["dense_a_bias"]])
        self.dense_b.set_weights([weights["dense_b_kernel"], weights["dense_b_bias"]])
        self.seed_generator = keras.random.SeedGenerator(SEED)
        self.add_trackers(["encoder_loss", "noisy_loss"])
        self.built = True

    def update_phases(self):
        return [
            UpdatePhase(
                "encoder",
                self.encoder_loss,
                lambda: self.dense_a.trainable_variables
                + self.norm.trainable_variables,
            ),
            UpdatePhase(
                "noisy",
                self.noisy_loss,
                lambda: self.dense_b.trainable_variables,
                repeats=2,
            ),
        ]

    def default_optimizers(self):
        return {
            "encoder": keras.optimizers.SGD(SGD_LEARNING_RATE),
            "noisy": keras.optimizers.Adam(ADAM_LEARNING_RATE),
        }

    def encoder_loss(self, data, training):
        x, y = data
        h = self.norm(self.dense_a(x), training=training)
        loss = ops.mean(ops.square(h - y))
        return loss, {"encoder_loss": loss}

    def noisy_loss(self, data, training):
        # The seed state is [seed, number of draws so far].
        x, y = data
        counter = ops.sum(self.seed_generator.next())
        noise = counter_noise(counter, (ops.shape(x)[0], 3))
        prediction = self.dense_b(x + NOISE_SCALE * noise)
        loss = ops.mean(ops.square(prediction - y))
        return loss, {"noisy_loss": loss}

    def get_config(self):
        return {"name": self.name}


keras.saving.register_keras_serializable(package="zoo_tests")(ToyTwoPhase)


def make_data(rows=24):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 3)).astype("float32")
    y = rng.normal(size=(rows, 2)).astype("float32")
    return x, y


def numpy_reference(x, y, batch_size, steps):
    """Train the toy model in float64 NumPy; return weights and losses."""
    weights = {k: v.astype("float64") for k, v in initial_weights().items()}
    gamma, beta = np.ones(2), np.zeros(2)
    moving_mean, moving_var = np.zeros(2), np.ones(2)
    adam_m = {"k": np.zeros((3, 2)), "b": np.zeros(2)}
    adam_v = {"k": np.zeros((3, 2)), "b": np.zeros(2)}
    adam_t = 0
    counter = SEED
    losses = []

    for step in range(steps):
        xb = x[step * batch_size : (step + 1) * batch_size].astype("float64")
        yb = y[step * batch_size : (step + 1) * batch_size].astype("float64")

        # Phase "encoder": Dense + BatchNorm in training mode, SGD.
        def encoder_loss(kernel, bias, g, b):
            h = xb @ kernel + bias
            mean, var = h.mean(0), h.var(0)
            out = g * (h - mean) / np.sqrt(var + BN_EPSILON) + b
            return np.mean((out - yb) ** 2)

        params = [weights["dense_a_kernel"], weights["dense_a_bias"], gamma, beta]
        encoder_value = encoder_loss(*params)
        grads = numeric_gradients(encoder_loss, params)
        h = xb @ weights["dense_a_kernel"] + weights["dense_a_bias"]
        moving_mean = moving_mean * BN_MOMENTUM + h.mean(0) * (1 - BN_MOMENTUM)
        moving_var = moving_var * BN_MOMENTUM + h.var(0) * (1 - BN_MOMENTUM)
        weights["dense_a_kernel"] = params[0] - SGD_LEARNING_RATE * grads[0]
        weights["dense_a_bias"] = params[1] - SGD_LEARNING_RATE * grads[1]
        gamma = params[2] - SGD_LEARNING_RATE * grads[2]
        beta = params[3] - SGD_LEARNING_RATE * grads[3]

        # Phase "noisy": two Adam updates, each on half of the batch.
        half = batch_size // 2
        for index in range(2):
            xs = xb[index * half : (index + 1) * half]
            ys = yb[index * half : (index + 1) * half]
            noise = counter_noise_numpy(counter, xs.shape)
            counter += 1

            def noisy_loss(kernel, bias):
                prediction = (xs + NOISE_SCALE * noise) @ kernel + bias
                return np.mean((prediction - ys) ** 2)

            params = [weights["dense_b_kernel"], weights["dense_b_bias"]]
            noisy_value = noisy_loss(*params)
            grads = numeric_gradients(noisy_loss, params)
            adam_t += 1
            for key, name, grad in (("k", "dense_b_kernel", grads[0]), ("b", "dense_b_bias", grads[1])):
                adam_m[key] += (grad - adam_m[key]) * (1 - 0.9)
                adam_v[key] += (grad**2 - adam_v[key]) * (1 - 0.999)
                rate = ADAM_LEARNING_RATE * np.sqrt(1 - 0.999**adam_t) / (1 - 0.9**adam_t)
                weights[name] = weights[name] - rate * adam_m[key] / (np.sqrt(adam_v[key]) + 1e-7)

        losses.append((encoder_value, noisy_value))

    weights.update(gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var)
    return weights, losses


def numeric_gradients(function, params, step=1e-6):
    """Central finite differences in float64, accurate to about 1e-8."""
    grads = []
    for index, param in enumerate(params):
        grad = np.zeros_like(param)
        for position in np.ndindex(param.shape):
            shifted = [p.copy() for p in params]
            shifted[index][position] += step
            upper = function(*shifted)
            shifted[index][position] -= 2 * step
            lower = function(*shifted)
            grad[position] = (upper - lower) / (2 * step)
        grads.append(grad)
    return grads


class NoiseRecorder(PhaseModel):
    """One phase that draws `keras.random.normal` noise and stores it.

    The stored noise shows whether the compiled step draws new noise on
    every call or replays the noise captured when it was traced.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, name="dense")
        self.dense.build((None, 3))
        self.seed_generator = keras.random.SeedGenerator(SEED)
        self.last_noise = self.add_weight(
            shape=(4,), initializer="zeros", trainable=False, name="last_noise"
        )
        self.add_trackers(["fit_loss"])
        self.built = True

    def update_phases(self):
        return [UpdatePhase("dense", self.noisy_loss, lambda: self.dense.trainable_variables)]

    def default_optimizers(self):
        return {"dense": keras.optimizers.SGD(0.01)}

    def noisy_loss(self, data, training):
        x, y = data
        noise = keras.random.normal((4,), seed=self.seed_generator)
        self.last_noise.assign(noise)
        loss = ops.mean(ops.square(self.dense(x) + ops.mean(noise) - y))
        return loss, {"fit_loss": loss}


keras.saving.register_keras_serializable(package="zoo_tests")(NoiseRecorder)
