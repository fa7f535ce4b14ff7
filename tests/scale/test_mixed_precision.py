"""The embedder and its training step under 16-bit dtype policies against float32."""

import keras
import numpy as np
import pytest
from keras import ops

from recipes.runner import scaled_training
from zoo.backend import input_gradients
from zoo.core import PhaseModel, PhaseOptimizer, UpdatePhase
from zoo.errors import InvalidConfigError
from zoo.metric import TripletModel, build_embedder

# bfloat16 keeps 8 significant bits (relative rounding up to 2**-8, about
# 4e-3) per operation. Measured on this network: max difference 1.7e-3 to
# 2.6e-3 and min cosine 0.99998 under tensorflow, jax and torch (CPU).
MAX_DIFFERENCE = 1e-2
MIN_COSINE = 0.999


def embed(policy_name, weights, images):
    with scaled_training(mixed_precision=policy_name):
        embedder = build_embedder(input_shape=(28, 23, 1), embedding_dim=32, widths=(8, 16, 32))
        if weights is not None:
            embedder.set_weights(weights)
        return embedder, keras.ops.convert_to_numpy(embedder(images, training=False))


def test_bfloat16_embeddings_match_float32():
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(16, 28, 23, 1)).astype("float32")

    reference_model, reference = embed(None, None, images)
    mixed_model, mixed = embed("bfloat16", reference_model.get_weights(), images)

    assert mixed_model.layers[1].compute_dtype == "bfloat16"
    assert mixed.dtype == np.float32
    cosines = np.sum(mixed * reference, axis=1)
    assert np.abs(mixed - reference).max() < MAX_DIFFERENCE
    assert cosines.min() > MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)


def test_policy_restored_after_block():
    before = keras.config.dtype_policy().name
    with scaled_training(mixed_precision="bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"

    assert keras.config.dtype_policy().name == before


def test_unknown_precision_rejected():
    with pytest.raises(InvalidConfigError, match="bfloat16"):
        with scaled_training(mixed_precision="int8"):
            pass


# One SGD step of the triplet model on a tiny embedder. float16 keeps 11
# significant bits (relative rounding up to 2**-11, about 5e-4) per operation.
# The step, with learning rate 2, moves the embeddings by up to 0.089. Measured
# under tensorflow, jax and torch (CPU): max difference 2.5e-4 to 3.0e-4, min
# cosine 0.9999997, and an error of 0.28 % in the projection kernel's update.
FLOAT16_MAX_DIFFERENCE = 2e-3
FLOAT16_MIN_COSINE = 0.9999
FLOAT16_MAX_UPDATE_ERROR = 0.02
STEP_LEARNING_RATE = 2.0
STEP_INPUT_SHAPE = (16, 12, 1)
STEP_EMBEDDER = dict(input_shape=STEP_INPUT_SHAPE, embedding_dim=16, widths=(4, 8), convs_per_block=1)


def numpy_values(variables):
    return [ops.convert_to_numpy(variable) for variable in variables]


def scale_state(optimizer):
    """Return (dynamic scale, steps since its last change, inner optimizer's iterations)."""
    return (
        float(ops.convert_to_numpy(optimizer.dynamic_scale)),
        int(ops.convert_to_numpy(optimizer.step_counter)),
        int(ops.convert_to_numpy(optimizer.inner_optimizer.iterations)),
    )


def numpy_kernels(weights):
    """Redraw every kernel with NumPy (He normal), so all backends start equal."""
    rng = np.random.default_rng(5)
    drawn = []
    for value in weights:
        if value.ndim >= 2:
            fan_in = int(np.prod(value.shape[:-1]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=value.shape).astype("float32")
        drawn.append(value)
    return drawn


def train_triplet_step(policy_name, weights, images, labels):
    with scaled_training(mixed_precision=policy_name):
        embedder = build_embedder(**STEP_EMBEDDER)
        embedder.set_weights(weights)
        model = TripletModel(embedder, mining="batch_all")
        model.compile(optimizer=keras.optimizers.SGD(STEP_LEARNING_RATE))
        model.fit(images, labels, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
        embeddings = ops.convert_to_numpy(model.embedder(images, training=False))
    return model, embeddings


@pytest.fixture(scope="module")
def triplet_steps():
    """One triplet step from the same weights under float32 and under float16.

    The float16 model is returned so that other tests can train it
    further. Everything the parity test compares is copied to NumPy here,
    before those tests run.
    """
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(8, *STEP_INPUT_SHAPE)).astype("float32")
    labels = np.repeat(np.arange(4), 2).astype("int32")
    with scaled_training():
        initial = build_embedder(**STEP_EMBEDDER)
    weights = numpy_kernels(initial.get_weights())
    initial.set_weights(weights)

    reference_model, reference = train_triplet_step(None, weights, images, labels)
    mixed_model, mixed = train_triplet_step("float16", weights, images, labels)
    return {
        "images": images,
        "labels": labels,
        "initial_embeddings": ops.convert_to_numpy(initial(images, training=False)),
        "initial_kernel": ops.convert_to_numpy(initial.get_layer("projection").kernel),
        "reference": reference,
        "reference_kernel": ops.convert_to_numpy(reference_model.embedder.get_layer("projection").kernel),
        "mixed": mixed,
        "mixed_kernel": ops.convert_to_numpy(mixed_model.embedder.get_layer("projection").kernel),
        "mixed_scale_state": scale_state(mixed_model.optimizer.optimizers_by_phase["embedder"]),
        "mixed_model": mixed_model,
    }


def test_float16_triplet_step_matches_float32(triplet_steps):
    reference = triplet_steps["reference"]
    mixed = triplet_steps["mixed"]
    reference_update = triplet_steps["reference_kernel"] - triplet_steps["initial_kernel"]
    mixed_update = triplet_steps["mixed_kernel"] - triplet_steps["initial_kernel"]
    update_error = np.linalg.norm(mixed_update - reference_update) / np.linalg.norm(reference_update)

    # The step must move the embeddings by more than the tolerance, or a
    # skipped float16 step would pass too.
    assert np.abs(reference - triplet_steps["initial_embeddings"]).max() > 10 * FLOAT16_MAX_DIFFERENCE
    assert mixed.dtype == np.float32
    assert np.abs(mixed - reference).max() < FLOAT16_MAX_DIFFERENCE
    assert np.sum(mixed * reference, axis=1).min() > FLOAT16_MIN_COSINE
    assert update_error < FLOAT16_MAX_UPDATE_ERROR
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1.0, atol=1e-5)


def test_float16_step_applied_at_initial_scale(triplet_steps):
    model = triplet_steps["mixed_model"]
    optimizer = model.optimizer.optimizers_by_phase["embedder"]

    assert model.embedder.get_layer("block1_conv1").compute_dtype == "float16"
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert triplet_steps["mixed_scale_state"] == (2.0**15, 1, 1)


def test_float16_overflow_step_skipped(triplet_steps):
    model = triplet_steps["mixed_model"]
    optimizer = model.optimizer.optimizers_by_phase["embedder"]
    # With a loss scale of 2**40 the scaled gradients exceed float16's
    # maximum of 65504 and become inf on the way back through the network.
    optimizer.dynamic_scale.assign(2.0**40)
    _, _, iterations_before = scale_state(optimizer)
    weights_before = numpy_values(model.trainable_variables)

    history = model.fit(
        triplet_steps["images"], triplet_steps["labels"], batch_size=8, epochs=1, shuffle=False, verbose=0
    )

    for before, after in zip(weights_before, numpy_values(model.trainable_variables)):
        np.testing.assert_array_equal(after, before)
    assert scale_state(optimizer) == (2.0**39, 0, iterations_before)
    assert np.isfinite(history.history["loss"][0])


def test_float16_model_save_load_round_trip(triplet_steps, tmp_path):
    model = triplet_steps["mixed_model"]
    path = tmp_path / "model.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)

    loaded_optimizer = loaded.optimizer.optimizers_by_phase["embedder"]
    assert isinstance(loaded_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scale_state(loaded_optimizer) == scale_state(model.optimizer.optimizers_by_phase["embedder"])
    assert loaded.embedder.get_layer("block1_conv1").compute_dtype == "float16"
    for saved, restored in zip(numpy_values(model.weights), numpy_values(loaded.weights)):
        np.testing.assert_array_equal(restored, saved)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.embedder(triplet_steps["images"], training=False)),
        ops.convert_to_numpy(model.embedder(triplet_steps["images"], training=False)),
        atol=1e-6,
    )


R1_LEARNING_RATE = 0.1


class DenseCritic(PhaseModel):
    """D(x) = x k + b, one Dense layer, trained only on the R1 penalty.

    The input gradient of every row is k, so R1 = 0.5 * ||k||^2, its
    gradient for k is k, and one SGD step gives k * (1 - learning rate).
    """

    def __init__(self, kernel, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1, name="critic")
        self.dense.build((None, kernel.shape[0]))
        self.dense.kernel.assign(kernel)
        self.add_trackers(["r1_penalty"])
        self.built = True

    def update_phases(self):
        return [UpdatePhase("critic", self.penalty_loss, lambda: self.dense.trainable_variables)]

    def default_optimizers(self):
        return {"critic": keras.optimizers.SGD(R1_LEARNING_RATE)}

    def penalty_loss(self, data, training):
        gradients = input_gradients(lambda batch: self.dense(batch, training=training), data)
        gradients = ops.cast(gradients, "float32")
        penalty = 0.5 * ops.mean(ops.sum(ops.square(gradients), axis=1))
        return penalty, {"r1_penalty": penalty}


def test_float16_r1_penalty_step_closed_form():
    # torch.compile does not support double backward (torch 2.13).
    jit_compile = keras.backend.backend() != "torch"
    kernel = np.random.default_rng(2).normal(size=(6, 1)).astype("float32")
    x = np.random.default_rng(3).uniform(-1, 1, size=(4, 6)).astype("float32")
    # At the default initial scale 2**15 the scaled kernel gradient, 2**15 * k
    # with |k| up to about 2, overflowed float16 here and the step was skipped,
    # so this test passes its own LossScaleOptimizer with a lower initial scale.
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(R1_LEARNING_RATE), initial_scale=2.0**8
    )
    with scaled_training(mixed_precision="float16"):
        model = DenseCritic(kernel)
        model.compile(optimizer=PhaseOptimizer({"critic": optimizer}), jit_compile=jit_compile)
        history = model.fit(x, batch_size=4, epochs=1, verbose=0)

    # float16 rounds the kernel and the input gradient to 2**-11 relative.
    assert model.dense.compute_dtype == "float16"
    assert model.optimizer.optimizers_by_phase["critic"] is optimizer
    assert scale_state(optimizer) == (2.0**8, 1, 1)
    assert history.history["r1_penalty"][0] == pytest.approx(0.5 * np.sum(kernel**2), rel=2e-3)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.dense.kernel), kernel * (1 - R1_LEARNING_RATE), rtol=2e-3
    )


# The GAN losses cast the discriminator's logits to float32, and StyleGAN's
# noise inputs are cast to the compute dtype, so both families train under
# float16: every logged value stays finite and in float32.
@pytest.mark.parametrize("family", ["dcgan", "stylegan"])
def test_float16_generative_models_train(family):
    from zoo.gan import DCGAN
    from zoo.stylegan import StyleGAN

    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    with scaled_training(mixed_precision="float16"):
        if family == "dcgan":
            model = DCGAN(latent_dim=8, image_shape=(8, 8, 1), filters=4, seed=0)
        else:
            model = StyleGAN(
                image_shape=(8, 8, 1), latent_dim=8, w_dim=8, mapping_layers=2,
                filters=4, max_filters=8, r1_interval=1, seed=0,
            )
        model.compile()
        history = model.fit(images, batch_size=8, epochs=1, shuffle=False, verbose=0)

    network = model.generator if family == "dcgan" else model.synthesis
    assert network.layers[-1].compute_dtype == "float16"
    for name in ("d_loss", "g_loss"):
        assert np.isfinite(history.history[name][-1]), name
