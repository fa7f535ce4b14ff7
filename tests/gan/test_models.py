"""GAN, DCGAN, Pix2Pix and the classifier: real training steps under the current backend."""

import keras
import numpy as np
import pytest

from zoo.classifier import Classifier
from zoo.errors import InvalidConfigError
from zoo.gan import DCGAN, GAN, Pix2Pix, networks


def iterations(model):
    return {
        name: int(keras.ops.convert_to_numpy(optimizer.iterations))
        for name, optimizer in model.optimizer.optimizers_by_phase.items()
    }


def blob_images(count, size=12, seed=0):
    """Bright squares on a dark background, at random places: an easy real set."""
    rng = np.random.default_rng(seed)
    images = np.full((count, size, size, 1), 0.05, "float32")
    for index in range(count):
        top, left = rng.integers(0, size - 4, size=2)
        images[index, top : top + 4, left : left + 4] = 0.95
    return images


def test_gan_k_discriminator_updates_per_step():
    keras.utils.set_random_seed(0)
    model = GAN(latent_dim=8, image_shape=(12, 12, 1), discriminator_steps=3, seed=1)
    model.compile()
    images = blob_images(48)

    model.fit(images, batch_size=12, epochs=1, shuffle=False, verbose=0)

    steps = 48 // 12
    assert iterations(model) == {"discriminator": 3 * steps, "generator": steps}


def test_gan_noise_differs_between_steps():
    model = GAN(latent_dim=8, image_shape=(12, 12, 1), seed=1)
    first = keras.ops.convert_to_numpy(model.sample_noise(4))
    second = keras.ops.convert_to_numpy(model.sample_noise(4))
    assert not np.allclose(first, second)


def test_discriminator_learns_real_from_fake():
    # Only discriminator updates: the learning rate of the generator is 0.
    keras.utils.set_random_seed(0)
    model = DCGAN(latent_dim=8, image_shape=(12, 12, 1), filters=8, seed=2)
    model.compile(
        optimizer={
            "discriminator": keras.optimizers.Adam(2e-3, beta_1=0.5),
            "generator": keras.optimizers.SGD(0.0),
        }
    )
    images = blob_images(256)

    history = model.fit(images, batch_size=32, epochs=2, verbose=0)

    assert history.history["d_real_accuracy"][-1] > 0.5
    assert history.history["d_fake_accuracy"][-1] > 0.5
    assert history.history["d_loss"][-1] < history.history["d_loss"][0]


@pytest.mark.parametrize("generator_loss", ["minimax", "non_saturating"])
def test_gan_trains_with_both_generator_losses(generator_loss):
    keras.utils.set_random_seed(0)
    model = GAN(latent_dim=8, image_shape=(12, 12, 1), generator_loss=generator_loss, real_target=0.9, seed=3)
    model.compile()
    history = model.fit(blob_images(64), batch_size=16, epochs=1, verbose=0)
    for name in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"):
        assert np.isfinite(history.history[name][-1]), name


def test_gan_rejects_invalid_arguments():
    with pytest.raises(InvalidConfigError, match="discriminator_steps"):
        GAN(discriminator_steps=0)
    with pytest.raises(InvalidConfigError, match="generator_loss"):
        GAN(generator_loss="hinge")
    with pytest.raises(InvalidConfigError, match="real-image target"):
        GAN(real_target=0.3)
    with pytest.raises(InvalidConfigError, match="divisible by 4"):
        DCGAN(image_shape=(10, 10, 1))


def test_generator_part_outputs_images_in_unit_range():
    model = DCGAN(latent_dim=8, image_shape=(12, 12, 1), filters=8, seed=4)
    part = model.exportable_parts()["generator"]
    images = keras.ops.convert_to_numpy(part.model(np.random.default_rng(0).normal(size=(5, 8)).astype("float32")))

    assert part.task == "generator"
    assert part.model.outputs[0].shape[1:] == (12, 12, 1)
    assert images.min() >= 0.0
    assert images.max() <= 1.0
    assert part.metadata["latent_dim"] == "8"


def test_pix2pix_l1_drops_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    targets = blob_images(64, size=8)
    # Input: the target inverted, so the identity map is wrong everywhere.
    inputs = 1.0 - targets
    model = Pix2Pix(image_shape=(8, 8, 1), generator_filters=4, discriminator_filters=4, learning_rate=5e-3)
    model.compile()
    untrained = np.mean(np.abs(model.translate(inputs) - targets))

    history = model.fit(inputs, targets, batch_size=16, epochs=5, verbose=0)

    trained = np.mean(np.abs(model.translate(inputs) - targets))
    assert trained < 0.75 * untrained
    assert history.history["l1_loss"][-1] < history.history["l1_loss"][0]
    assert iterations(model) == {"discriminator": 20, "generator": 20}

    model.save(tmp_path / "pix2pix.keras")
    loaded = keras.saving.load_model(tmp_path / "pix2pix.keras")
    assert loaded.get_config() == model.get_config()
    assert iterations(loaded) == iterations(model)
    np.testing.assert_allclose(loaded.translate(inputs[:4]), model.translate(inputs[:4]), atol=1e-5)


def test_patchgan_sized_to_input():
    small = networks.patchgan_discriminator((8, 8, 1), (8, 8, 1), filters=4)
    medium = networks.patchgan_discriminator((32, 32, 1), (32, 32, 1), filters=4)
    large = networks.patchgan_discriminator((64, 64, 1), (64, 64, 1), filters=4)
    assert small.outputs[0].shape[1:] == (4, 4, 1)
    assert medium.outputs[0].shape[1:] == (4, 4, 1)
    assert large.outputs[0].shape[1:] == (8, 8, 1)


def test_unet_depth_follows_size():
    assert networks.unet_depth((32, 32, 1)) == 5
    assert networks.unet_depth((28, 28, 1)) == 2
    assert networks.unet_depth((64, 64, 1), max_depth=4) == 4


def test_translator_part_maps_unit_range():
    model = Pix2Pix(image_shape=(8, 8, 1), generator_filters=4, discriminator_filters=4)
    part = model.exportable_parts()["generator"]
    translated = keras.ops.convert_to_numpy(part.model(blob_images(3, size=8)))
    assert part.task == "translator"
    assert translated.shape == (3, 8, 8, 1)
    assert translated.min() >= 0.0
    assert translated.max() <= 1.0


@pytest.mark.parametrize(
    "build",
    [
        lambda: GAN(latent_dim=8, image_shape=(12, 12, 1), discriminator_steps=2, seed=5),
        lambda: DCGAN(latent_dim=8, image_shape=(12, 12, 1), filters=4, seed=5),
    ],
    ids=["gan", "dcgan"],
)
def test_keras_round_trip_keeps_optimizers(tmp_path, build):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile()
    model.fit(blob_images(16), batch_size=8, epochs=1, verbose=0)
    probe = np.random.default_rng(1).normal(size=(3, model.latent_dim)).astype("float32")

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert iterations(loaded) == iterations(model)
    assert iterations(loaded)["discriminator"] > 0
    expected = keras.ops.convert_to_numpy(model.generator(probe, training=False))
    actual = keras.ops.convert_to_numpy(loaded.generator(probe, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_classifier_learns_separable_classes(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=128)
    images = rng.uniform(0, 0.2, size=(128, 12, 12, 1)).astype("float32")
    # Class 1 has a bright top half.
    images[labels == 1, :6] += 0.7
    model = Classifier(image_shape=(12, 12, 1), num_classes=2, filters=4, feature_dim=8, learning_rate=3e-3)
    model.compile()

    model.fit(images, labels, batch_size=32, epochs=4, verbose=0)

    logits, features = model.predict_logits_and_features(images)
    assert np.mean(logits.argmax(1) == labels) > 0.9
    assert features.shape == (128, 8)
    part = model.exportable_parts()["classifier"]
    assert part.task == "classifier"
    assert [output.shape[-1] for output in part.model.outputs] == [2, 8]

    model.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    np.testing.assert_allclose(loaded.predict_logits_and_features(images)[0], logits, atol=1e-4)
