"""Autoencoder, denoising AE and VAE: training, losses, warm-up, round trips."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.autoencoder import VAE, Autoencoder, DenoisingAutoencoder
from zoo.autoencoder.vae import bernoulli_log_likelihood, gaussian_kl_per_dim
from zoo.errors import InvalidConfigError

TINY = dict(input_shape=(16, 16, 1), latent_dim=3, filters=(4, 8), hidden_units=16)


def _bar_images(count=64, seed=0):
    """Images of one bright horizontal or vertical bar on a dark background."""
    rng = np.random.default_rng(seed)
    images = np.full((count, 16, 16, 1), 0.05, "float32")
    for index in range(count):
        position = rng.integers(2, 14)
        if index % 2:
            images[index, position - 1 : position + 2, :, 0] = 0.95
        else:
            images[index, :, position - 1 : position + 2, 0] = 0.95
    return images


def _set_fixed_weights(model, seed=0):
    """Give every weight a fixed value so the golden numbers hold on any backend."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(0.2 * rng.standard_normal(variable.shape).astype("float32"))


@pytest.mark.parametrize(
    "model_class, kwargs", [(Autoencoder, {}), (DenoisingAutoencoder, {"noise_level": 0.1})]
)
def test_autoencoder_training_lowers_mse(model_class, kwargs):
    keras.utils.set_random_seed(0)
    images = _bar_images()
    model = model_class(learning_rate=1e-2, seed=1, **TINY, **kwargs)
    model.compile()
    before = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)["mse"]

    model.fit(images, batch_size=16, epochs=20, verbose=0)

    after = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)["mse"]
    # The untrained sigmoid outputs about 0.5 everywhere (MSE about 0.2).
    # Outputting the mean image gives about 0.12 (0.6 of that), so a ratio
    # under 0.5 means the model has learned where the bars are.
    assert after < 0.5 * before


def test_autoencoder_bce_loss_matches_numpy():
    images = _bar_images(8)
    model = Autoencoder(reconstruction_loss="bce", **TINY)
    _set_fixed_weights(model)

    loss, logs = model.reconstruction_phase_loss(images, training=False)

    output = np.clip(ops.convert_to_numpy(model(images)).astype("float64"), 1e-7, 1 - 1e-7)
    expected = -np.mean(images * np.log(output) + (1 - images) * np.log(1 - output))
    assert float(loss) == pytest.approx(expected, rel=1e-4)
    assert float(logs["mse"]) == pytest.approx(np.mean((output - images) ** 2), rel=1e-4)


def test_denoising_noise_only_in_training():
    images = _bar_images(8)
    model = DenoisingAutoencoder(noise="masking", noise_level=0.5, **TINY)

    corrupted = ops.convert_to_numpy(model.corrupt(ops.convert_to_tensor(images)))
    clean_loss, _ = model.reconstruction_phase_loss(images, training=False)
    clean_mse = np.mean((ops.convert_to_numpy(model(images)) - images) ** 2)

    masked_fraction = np.mean(corrupted == 0)
    assert 0.4 < masked_fraction < 0.6
    assert np.all((corrupted == 0) | (corrupted == images))
    assert float(clean_loss) == pytest.approx(clean_mse, rel=1e-5)


def test_vae_loss_matches_numpy_oracle():
    images = _bar_images(8)
    model = VAE(beta=0.5, **TINY)
    _set_fixed_weights(model)
    eps = np.random.default_rng(3).standard_normal((8, 3)).astype("float32")
    eps_tensor = ops.convert_to_tensor(eps)
    model.reparameterize = lambda z_mean, z_log_var: z_mean + ops.exp(0.5 * z_log_var) * eps_tensor

    loss, logs = model.elbo_phase_loss(images, training=False)

    # Oracle: the same networks' outputs, the loss written out in float64.
    z_mean, z_log_var = (ops.convert_to_numpy(t).astype("float64") for t in model.encoder(images))
    z = (z_mean + np.exp(0.5 * z_log_var) * eps).astype("float32")
    logits = ops.convert_to_numpy(model.decoder(z)).astype("float64")
    x = images.astype("float64")
    bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    reconstruction = np.mean(bce.reshape(8, -1).sum(axis=1))
    kl = np.mean(np.sum(0.5 * (z_mean**2 + np.exp(z_log_var) - 1 - z_log_var), axis=1))

    assert float(logs["reconstruction_loss"]) == pytest.approx(reconstruction, rel=1e-5)
    assert float(logs["kl_loss"]) == pytest.approx(kl, rel=1e-4)
    assert float(loss) == pytest.approx(reconstruction + 0.5 * kl, rel=1e-5)
    assert float(logs["elbo"]) == pytest.approx(-(reconstruction + kl), rel=1e-5)


def test_vae_loss_terms_golden_values():
    images = ops.convert_to_tensor(np.array([[[[1.0], [0.0]]]], "float32"))
    logits = ops.convert_to_tensor(np.array([[[[0.0], [2.0]]]], "float32"))

    log_likelihood = float(bernoulli_log_likelihood(images, logits)[0])
    kl = ops.convert_to_numpy(
        gaussian_kl_per_dim(ops.convert_to_tensor([[1.0, 0.0]]), ops.convert_to_tensor([[0.0, np.log(2.0)]]))
    )

    # log sigmoid(0) + log(1 - sigmoid(2)) = -log 2 - log(1 + e^2)
    assert log_likelihood == pytest.approx(-np.log(2) - np.log1p(np.exp(2.0)), rel=1e-6)
    # KL(N(1, 1) || N(0, 1)) = 0.5; KL(N(0, 2) || N(0, 1)) = 0.5 (2 - 1 - log 2)
    np.testing.assert_allclose(kl[0], [0.5, 0.5 * (1 - np.log(2))], rtol=1e-6)


def test_vae_draws_new_eps_every_step():
    images = _bar_images(16)
    model = VAE(**TINY)
    model.compile(optimizer=keras.optimizers.SGD(0.0))

    first = model.train_on_batch(images, return_dict=True)
    second = model.train_on_batch(images, return_dict=True)

    # The weights cannot change at learning rate 0, so only eps differs.
    assert first["reconstruction_loss"] != pytest.approx(second["reconstruction_loss"], rel=1e-7)
    assert first["kl_loss"] == pytest.approx(second["kl_loss"], rel=1e-6)


def test_vae_kl_warmup_schedule():
    images = _bar_images(16)
    model = VAE(beta=2.0, kl_warmup_steps=4, **TINY)
    model.compile()

    logged = [model.train_on_batch(images, return_dict=True)["kl_weight"] for _ in range(3)]

    np.testing.assert_allclose(logged, [0.0, 0.5, 1.0], atol=1e-6)
    assert float(model.train_steps) == 3.0
    assert float(model.kl_weight(4)) == pytest.approx(2.0)
    assert float(model.kl_weight(100)) == pytest.approx(2.0)
    assert float(VAE(beta=0.7, **TINY).kl_weight(0)) == pytest.approx(0.7)


def test_vae_training_raises_elbo():
    images = _bar_images(64)
    keras.utils.set_random_seed(0)
    model = VAE(learning_rate=1e-2, **TINY)
    model.compile()
    before = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)

    model.fit(images, batch_size=16, epochs=8, verbose=0)

    after = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)
    # 256 pixels at the untrained ~0.69 nats each is about -177 nats. The
    # eps noise moves the estimate by under 1 nat, and 32 working updates
    # gain more than 15 nats on every backend.
    assert after["elbo"] > before["elbo"] + 15.0
    assert np.isfinite(after["active_units"])


def test_iwae_bound_is_at_least_elbo():
    images = _bar_images(8)
    model = VAE(**TINY)
    _set_fixed_weights(model)

    elbo = model.importance_weighted_bound(images, num_samples=1, seed=0)
    iwae = model.importance_weighted_bound(images, num_samples=32, seed=0)

    assert elbo.shape == (8,)
    # The K-sample bound is on average above the 1-sample one.
    assert np.mean(iwae) > np.mean(elbo)


@pytest.mark.parametrize(
    "model_class, kwargs",
    [(Autoencoder, {}), (DenoisingAutoencoder, {"noise": "masking", "noise_level": 0.2}), (VAE, {"kl_warmup_steps": 5})],
)
def test_model_keras_round_trip(tmp_path, model_class, kwargs):
    images = _bar_images(16)
    model = model_class(**TINY, **kwargs)
    model.compile()
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "model.keras"

    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded) is model_class
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(images)), ops.convert_to_numpy(model(images)), atol=1e-6
    )
    if model_class is VAE:
        assert float(loaded.train_steps) == 2.0


def test_exportable_parts_names_and_range():
    images = _bar_images(4)
    expected_outputs = {Autoencoder: ["z"], VAE: ["z_mean", "z_log_var"]}
    for model_class, outputs in expected_outputs.items():
        parts = model_class(**TINY).exportable_parts()
        encoder, decoder = parts["encoder"], parts["decoder"]

        z = np.random.default_rng(0).standard_normal((4, 3)).astype("float32") * 5
        decoded = ops.convert_to_numpy(decoder.model(z))

        assert (encoder.task, decoder.task) == ("encoder", "decoder")
        assert encoder.model.layers[0].name == "images"
        assert encoder.model.output_names == outputs
        assert decoder.model.layers[0].name == "z"
        assert decoder.model.output_names == ["images"]
        assert decoder.metadata["latent_dim"] == "3"
        assert decoder.metadata["input_height"] == "16"
        assert decoded.shape == images.shape
        assert decoded.min() >= 0.0
        assert decoded.max() <= 1.0


def test_vae_exported_decoder_is_sigmoid_of_logits():
    model = VAE(**TINY)
    z = np.random.default_rng(1).standard_normal((4, 3)).astype("float32")

    exported = ops.convert_to_numpy(model.exportable_parts()["decoder"].model(z))
    logits = ops.convert_to_numpy(model.decoder(z))

    np.testing.assert_allclose(exported, 1 / (1 + np.exp(-logits)), atol=1e-6)


def test_models_reject_bad_arguments():
    with pytest.raises(InvalidConfigError, match="divisible by 4"):
        Autoencoder(input_shape=(30, 30, 1), filters=(4, 8))
    with pytest.raises(InvalidConfigError, match="reconstruction_loss"):
        Autoencoder(reconstruction_loss="l1", **TINY)
    with pytest.raises(InvalidConfigError, match="noise_level"):
        Autoencoder(noise="masking", noise_level=1.5, **TINY)
    with pytest.raises(InvalidConfigError, match="use Autoencoder"):
        DenoisingAutoencoder(noise=None, **TINY)
    with pytest.raises(InvalidConfigError, match="kl_warmup_steps"):
        VAE(kl_warmup_steps=-1, **TINY)
    with pytest.raises(InvalidConfigError, match="latent_dim"):
        VAE(input_shape=(16, 16, 1), latent_dim=0)
