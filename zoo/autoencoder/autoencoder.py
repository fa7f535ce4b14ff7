"""The convolutional autoencoder and its denoising variant."""

import keras
from keras import ops

from zoo.autoencoder.networks import build_decoder, build_encoder, check_architecture
from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError

RECONSTRUCTION_LOSSES = ("mse", "bce")
NOISE_TYPES = (None, "gaussian", "masking")


def images_of(data):
    """Return the images of a batch given as `x`, `(x,)` or `(x, y, ...)`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(PhaseModel):
    """A convolutional autoencoder trained in one reconstruction phase.

    The encoder maps `images` to `z`; the decoder maps `z` back to `images`
    through a sigmoid, so reconstructions lie in [0, 1]. With `noise` set it
    is a denoising autoencoder (Vincent et al., 2008): training corrupts the
    encoder input, and the loss compares the reconstruction with the clean
    image. Evaluation and inference never add noise.

    Args:
        input_shape: `(height, width, channels)`; height and width divisible
            by `2 ** len(filters)`.
        latent_dim: the size of `z`.
        filters: channel counts of the stride-2 convolutions.
        hidden_units: width of the dense layer next to `z`, 0 for none.
        reconstruction_loss: `"mse"` (mean squared error per pixel) or
            `"bce"` (binary cross-entropy per pixel, images as Bernoulli means).
        noise: `None`, `"gaussian"` (add N(0, noise_level^2), clip to [0, 1])
            or `"masking"` (set a `noise_level` fraction of pixels to 0).
        noise_level: the noise standard deviation or the masked fraction.
        learning_rate: the Adam learning rate of `default_optimizers()`.
        seed: the seed of the noise generator.

    Logged values: `reconstruction_loss` (the training objective) and `mse`
    (mean squared error per pixel, for comparison across losses).
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=16,
        filters=(32, 64),
        hidden_units=256,
        reconstruction_loss="mse",
        noise=None,
        noise_level=0.0,
        learning_rate=1e-3,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        input_shape, latent_dim, filters, hidden_units = check_architecture(
            input_shape, latent_dim, filters, hidden_units
        )
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise InvalidConfigError(
                f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}. "
                f"Received: {reconstruction_loss!r}"
            )
        if noise not in NOISE_TYPES:
            raise InvalidConfigError(f"noise must be one of {NOISE_TYPES}. Received: {noise!r}")
        if noise is not None and not 0 < noise_level <= (1 if noise == "masking" else float("inf")):
            raise InvalidConfigError(
                f"noise '{noise}' needs noise_level > 0 (and <= 1 for masking). "
                f"Received: noise_level={noise_level!r}"
            )

        self.encoder = build_encoder(input_shape, latent_dim, filters, hidden_units, ("z",))
        self.decoder = build_decoder(input_shape, latent_dim, filters, hidden_units, "images")
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.add_trackers(["reconstruction_loss", "mse"])
        self.built = True

        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.filters = filters
        self.hidden_units = hidden_units
        self.reconstruction_loss = reconstruction_loss
        self.noise = noise
        self.noise_level = float(noise_level)
        self.learning_rate = float(learning_rate)
        self.seed = seed

    def call(self, images, training=False):
        """Return the reconstructions of `images`, shape like the input."""
        return self.decoder(self.encoder(images, training=training), training=training)

    def update_phases(self):
        return [
            UpdatePhase(
                "reconstruction",
                self.reconstruction_phase_loss,
                lambda: self.encoder.trainable_variables + self.decoder.trainable_variables,
            )
        ]

    def default_optimizers(self):
        return {"reconstruction": keras.optimizers.Adam(self.learning_rate)}

    def corrupt(self, images):
        """Apply the training noise to `images`; identity without noise."""
        if self.noise == "gaussian":
            noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
            return ops.clip(images + self.noise_level * noise, 0.0, 1.0)
        if self.noise == "masking":
            keep = keras.random.uniform(ops.shape(images), seed=self.seed_generator)
            return images * ops.cast(keep >= self.noise_level, images.dtype)
        return images

    def reconstruction_phase_loss(self, data, training):
        images = ops.convert_to_tensor(images_of(data), dtype="float32")
        inputs = self.corrupt(images) if training else images
        reconstructions = self(inputs, training=training)

        mse = ops.mean(ops.square(reconstructions - images))
        if self.reconstruction_loss == "mse":
            loss = mse
        else:
            loss = ops.mean(ops.binary_crossentropy(images, reconstructions))
        return loss, {"reconstruction_loss": loss, "mse": mse}

    def exportable_parts(self):
        """Return the encoder (`images` -> `z`) and decoder (`z` -> `images`)."""
        height, width, channels = self.image_shape
        metadata = {
            "model_name": self.name,
            "input_height": height,
            "input_width": width,
            "input_channels": channels,
            "latent_dim": self.latent_dim,
        }
        return {
            "encoder": ExportPart(self.encoder, "encoder", dict(metadata)),
            "decoder": ExportPart(self.decoder, "decoder", dict(metadata)),
        }

    def get_config(self):
        return {
            "name": self.name,
            "input_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "filters": list(self.filters),
            "hidden_units": self.hidden_units,
            "reconstruction_loss": self.reconstruction_loss,
            "noise": self.noise,
            "noise_level": self.noise_level,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="zoo")
class DenoisingAutoencoder(Autoencoder):
    """An `Autoencoder` trained on corrupted inputs, Gaussian noise by default.

    Args:
        noise: `"gaussian"` or `"masking"`.
        noise_level: the noise standard deviation or the masked fraction.
        **kwargs: the `Autoencoder` arguments.
    """

    def __init__(self, noise="gaussian", noise_level=0.3, **kwargs):
        if noise is None:
            raise InvalidConfigError(
                "DenoisingAutoencoder needs noise 'gaussian' or 'masking'. "
                "Received: None; use Autoencoder for no noise."
            )
        super().__init__(noise=noise, noise_level=noise_level, **kwargs)
