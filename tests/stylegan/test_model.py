"""StyleGAN training model: R1 closed form, lazy weighting, real steps, `.keras` round trip."""

import keras
import numpy as np
import pytest
from keras import ops

from recipes.gan_data import pad_to
from zoo.errors import InvalidConfigError
from zoo.stylegan import StyleGAN

TINY = dict(latent_dim=8, w_dim=8, mapping_layers=2, filters=4, max_filters=8)
BATCH_SIZE = 8
STEPS = 2
# The short real run: images, epochs and the floor on how much the mean-image gap must shrink.
# Measured ratios after 3 epochs: 0.69 (TensorFlow), 0.53 (JAX), 0.50 (torch); a generator
# that does not learn keeps a ratio near 1.
LEARN_IMAGES = 480
LEARN_EPOCHS = 3
LEARN_GAP_RATIO = 0.8


def numpy(tensor):
    return ops.convert_to_numpy(tensor)


def iterations(model):
    return {
        name: int(numpy(optimizer.iterations))
        for name, optimizer in model.optimizer.optimizers_by_phase.items()
    }


def linear_discriminator(image_shape, kernel, bias):
    """D(x) = sum(kernel * x) + bias, whose input gradient is `kernel` for every image."""
    images = keras.Input(shape=image_shape)
    flat = keras.layers.Flatten()(images)
    dense = keras.layers.Dense(1)
    model = keras.Model(images, dense(flat))
    dense.kernel.assign(kernel.reshape(-1, 1))
    dense.bias.assign(np.array([bias], "float32"))
    return model


@pytest.fixture(scope="module")
def linear_model():
    """A tiny StyleGAN whose discriminator is linear, with lazy R1 every 2 updates."""
    model = StyleGAN(image_shape=(8, 8, 1), r1_gamma=0.6, r1_interval=2, seed=0, **TINY)
    kernel = np.random.default_rng(0).normal(size=(8, 8, 1)).astype("float32")
    model.discriminator = linear_discriminator((8, 8, 1), kernel, bias=0.3)
    # grad_x D(x) = kernel, so R1 = gamma / 2 * ||kernel||^2 for every image.
    return model, 0.5 * 0.6 * np.sum(kernel.astype(np.float64) ** 2)


def test_r1_penalty_closed_form_on_linear_discriminator(linear_model):
    model, expected = linear_model
    images = np.random.default_rng(1).uniform(-1, 1, size=(4, 8, 8, 1)).astype("float32")

    penalty = float(numpy(model.r1_penalty(ops.convert_to_tensor(images), training=False)))

    assert penalty == pytest.approx(expected, rel=1e-5)


def test_lazy_r1_weights_every_nth_update(linear_model):
    model, penalty = linear_model
    model.discriminator_updates.assign(0)
    images = np.random.default_rng(3).uniform(size=(4, 8, 8, 1)).astype("float32")

    weights = []
    for _ in range(4):
        loss, logs = model.discriminator_loss(ops.convert_to_tensor(images), training=False)
        weights.append((float(numpy(loss)) - float(numpy(logs["d_loss"]))) / penalty)

    # Updates 0 and 2 carry n * R1 with n = 2; updates 1 and 3 carry none.
    np.testing.assert_allclose(weights, [2.0, 0.0, 2.0, 0.0], atol=1e-4)
    assert int(numpy(model.discriminator_updates)) == 4


def test_rejects_invalid_arguments():
    with pytest.raises(InvalidConfigError, match="power of 2"):
        StyleGAN(image_shape=(28, 28, 1))
    with pytest.raises(InvalidConfigError, match="mixing_probability"):
        StyleGAN(mixing_probability=1.5)
    with pytest.raises(InvalidConfigError, match="r1_interval"):
        StyleGAN(r1_interval=0)
    with pytest.raises(InvalidConfigError, match="ema_half_life"):
        StyleGAN(ema_half_life=-1)
    with pytest.raises(InvalidConfigError, match="ema_rampup"):
        StyleGAN(ema_rampup=0.0)
    with pytest.raises(InvalidConfigError, match="ema_half_life"):
        StyleGAN(ema_half_life=float("nan"))


def test_old_config_loads_without_average():
    model = StyleGAN(image_shape=(8, 8, 1), seed=0, **TINY)
    config = model.get_config()
    del config["ema_half_life"]

    restored = StyleGAN.from_config(config)

    # A model saved before the average existed has no weights for one.
    assert model.mapping_ema is not None
    assert restored.mapping_ema is None
    assert restored.sampling_networks == (restored.mapping, restored.synthesis)
    assert model.synthesis.name == "synthesis"
    assert model.synthesis_ema.name == "synthesis_ema"


def generator_weights(model):
    networks = (model.mapping, model.synthesis)
    return [numpy(weight) for network in networks for weight in network.weights if weight.trainable]


def averaged_weights(model):
    return [numpy(target) for _, target in model._averaged_weights()]


def fit_one_step(model, images):
    model.fit(images, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)


def test_generator_average_closed_form():
    # A half-life of 2 batches gives beta = 0.5 ** (8 / 16) per update.
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(4).uniform(size=(BATCH_SIZE, 8, 8, 1)).astype("float32")
    model = StyleGAN(image_shape=(8, 8, 1), ema_half_life=16, ema_rampup=None, seed=0, **TINY)
    model.compile()
    beta = 0.5 ** (BATCH_SIZE / 16)
    initial = generator_weights(model)

    fit_one_step(model, images)
    after_one = generator_weights(model)
    average_one = averaged_weights(model)
    fit_one_step(model, images)
    average_two = averaged_weights(model)

    # Each update averages in the weights from before it: w0 after step 1, w1 after step 2.
    assert any(np.abs(w1 - w0).max() > 1e-4 for w0, w1 in zip(initial, after_one))
    for w0, w1, ema_one, ema_two in zip(initial, after_one, average_one, average_two):
        np.testing.assert_allclose(ema_one, w0, atol=1e-6)
        np.testing.assert_allclose(ema_two, w1 + beta * (w0 - w1), rtol=1e-5, atol=1e-6)


def test_average_rampup_closed_form():
    # At step 2, 16 images are seen and the ramp-up caps the half-life at
    # 0.05 * 16 images, so beta = 0.5 ** (8 / 0.8) = 1 / 1024 and the
    # average nearly jumps to w1.
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(5).uniform(size=(BATCH_SIZE, 8, 8, 1)).astype("float32")
    model = StyleGAN(image_shape=(8, 8, 1), seed=0, **TINY)
    model.compile()
    z = np.random.default_rng(9).normal(size=(4, 8)).astype("float32")

    initial = generator_weights(model)

    fit_one_step(model, images)
    after_one = generator_weights(model)
    fit_one_step(model, images)
    average = averaged_weights(model)
    from_average = model.generate(z)
    model.mapping_ema, model.synthesis_ema = None, None
    from_trained = model.generate(z)

    for w0, w1, ema in zip(initial, after_one, average):
        np.testing.assert_allclose(ema, w1 + (w0 - w1) / 1024, rtol=1e-5, atol=1e-7)
    assert np.abs(from_average - from_trained).max() > 1e-5


@pytest.fixture(scope="module")
def trained(fashion_dir):
    from recipes.data import load_fashion_mnist

    keras.utils.set_random_seed(0)
    images = pad_to(load_fashion_mnist(fashion_dir, split="test").images[: STEPS * BATCH_SIZE], 32, 32)
    model = StyleGAN(image_shape=(32, 32, 1), r1_interval=2, seed=0, **TINY)
    model.compile()
    history = model.fit(images, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    return model, history


@pytest.mark.needs_data
def test_fashion_steps_finite_and_counted(trained):
    model, history = trained

    for name in ("d_loss", "g_loss", "r1_penalty", "d_real_accuracy", "d_fake_accuracy"):
        assert np.isfinite(history.history[name][-1]), name
    assert history.history["r1_penalty"][-1] > 0.0
    assert iterations(model) == {"discriminator": STEPS, "generator": STEPS}
    assert int(numpy(model.discriminator_updates)) == STEPS


@pytest.mark.needs_data
def test_w_avg_moves_after_training(trained):
    model, _ = trained

    w_avg = numpy(model.w_avg)

    # w_avg starts at zero and takes (1 - beta) of a batch mean per generator update.
    assert np.abs(w_avg).max() > 1e-4
    assert np.all(np.isfinite(w_avg))


@pytest.mark.needs_data
def test_generator_part_truncates_to_w_avg(trained):
    model, _ = trained
    parts = model.exportable_parts()
    z = np.random.default_rng(6).normal(size=(3, 8)).astype("float32")
    ones = np.ones((3, 1), "float32")

    at_zero = numpy(parts["generator"].model([z, np.zeros((3, 1), "float32")]))
    from_w_avg = numpy(parts["synthesis"].model(np.tile(numpy(model.w_avg), (3, model.num_ws, 1))))
    at_one = numpy(parts["generator"].model([z, ones]))
    w = numpy(parts["mapping"].model([z, ones]))
    from_w = numpy(parts["synthesis"].model(np.repeat(w[:, None, :], model.num_ws, axis=1)))

    assert sorted(parts) == ["generator", "mapping", "synthesis"]
    np.testing.assert_allclose(at_zero, from_w_avg, atol=1e-5)
    np.testing.assert_allclose(at_one, from_w, atol=1e-5)
    assert at_one.min() >= 0.0
    assert at_one.max() <= 1.0
    assert parts["generator"].metadata["latent_dim"] == "8"


@pytest.mark.needs_data
def test_keras_round_trip_keeps_w_avg_and_optimizers(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "stylegan.keras"
    z = np.random.default_rng(7).normal(size=(2, 8)).astype("float32")

    model.save(path)
    loaded = keras.saving.load_model(path)

    np.testing.assert_array_equal(numpy(loaded.w_avg), numpy(model.w_avg))
    for before, after in zip(averaged_weights(model), averaged_weights(loaded)):
        np.testing.assert_array_equal(after, before)
    assert iterations(loaded) == {"discriminator": STEPS, "generator": STEPS}
    assert int(numpy(loaded.discriminator_updates)) == STEPS
    for before, after in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(numpy(after), numpy(before))
    np.testing.assert_allclose(loaded.generate(z, psi=0.7), model.generate(z, psi=0.7), atol=1e-6)


def mean_image_gap(samples, real):
    """RMS distance between the mean generated image and the mean real image."""
    return float(np.sqrt(np.mean((samples.mean(axis=0) - real.mean(axis=0)) ** 2)))


@pytest.mark.needs_data
def test_short_training_learns_the_mean_garment(fashion_dir):
    from recipes.data import load_fashion_mnist

    # Trousers (class 1): a dark background around a bright vertical shape,
    # far from the grey blur that an untrained generator draws.
    keras.utils.set_random_seed(0)
    data = load_fashion_mnist(fashion_dir, split="test")
    real = pad_to(data.images[data.labels == 1][:LEARN_IMAGES], 32, 32)
    model = StyleGAN(image_shape=(32, 32, 1), seed=0, **TINY)
    model.compile()
    z = np.random.default_rng(8).normal(size=(256, TINY["latent_dim"])).astype("float32")
    before = mean_image_gap(model.generate(z), real)

    model.fit(real, batch_size=16, epochs=LEARN_EPOCHS, verbose=0)

    after = mean_image_gap(model.generate(z), real)
    assert after < LEARN_GAP_RATIO * before, (before, after)
