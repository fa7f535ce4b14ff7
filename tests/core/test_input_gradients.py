"""Gradient penalties through `zoo.backend.input_gradients`, closed form."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.backend import input_gradients
from zoo.core import PhaseModel, UpdatePhase

LEARNING_RATE = 0.05


class QuadraticCritic(PhaseModel):
    """D(x) = sum_j w_j x_j^2, trained only on the R1 penalty.

    The input gradient is 2 w x, so R1 = 0.5 * mean_b sum_j 4 w_j^2 x_bj^2
    and its gradient for w_j is 4 w_j mean_b x_bj^2.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(2,), initializer=keras.initializers.Constant([0.5, -1.5]), name="w")
        self.add_trackers(["r1_penalty"])
        self.built = True

    def critic(self, x):
        return ops.sum(self.w * ops.square(x), axis=1)

    def update_phases(self):
        return [UpdatePhase("critic", self.penalty_loss, lambda: [self.w])]

    def default_optimizers(self):
        return {"critic": keras.optimizers.SGD(LEARNING_RATE)}

    def penalty_loss(self, data, training):
        gradients = input_gradients(self.critic, data)
        penalty = 0.5 * ops.mean(ops.sum(ops.square(gradients), axis=1))
        return penalty, {"r1_penalty": penalty}


keras.saving.register_keras_serializable(package="zoo_tests")(QuadraticCritic)


def test_input_gradients_closed_form():
    x = np.array([[1.0, 2.0], [-3.0, 0.5]], "float32")
    weights = np.array([0.5, -1.5], "float32")

    weight_tensor = ops.convert_to_tensor(weights)
    gradients = input_gradients(
        lambda batch: ops.sum(weight_tensor * ops.square(batch), axis=1), ops.convert_to_tensor(x)
    )

    np.testing.assert_allclose(ops.convert_to_numpy(gradients), 2 * weights * x, rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_r1_penalty_step_closed_form(jit_compile):
    if jit_compile and keras.backend.backend() == "torch":
        pytest.skip("torch.compile does not support double backward (torch 2.13)")
    x = np.array([[1.0, 2.0], [-3.0, 0.5], [0.2, -1.0], [2.0, 1.0]], "float32")
    model = QuadraticCritic()
    model.compile(jit_compile=jit_compile)

    history = model.fit(x, batch_size=4, epochs=1, verbose=0)

    w = np.array([0.5, -1.5])
    expected_penalty = 0.5 * np.mean(np.sum(4 * w**2 * x**2, axis=1))
    expected_w = w - LEARNING_RATE * 4 * w * np.mean(x**2, axis=0)
    assert history.history["r1_penalty"][0] == pytest.approx(expected_penalty, rel=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(model.w), expected_w, rtol=1e-5)
