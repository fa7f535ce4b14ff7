"""The variational autoencoder (Kingma and Welling, 2014) with a beta weight.

The encoder outputs the mean `z_mean` and log-variance `z_log_var` of a
diagonal Gaussian q(z|x); the decoder outputs the logits of independent
Bernoulli pixels p(x|z); the prior p(z) is N(0, I).
"""

import math

import keras
import numpy as np
from keras import ops

from zoo.autoencoder.autoencoder import images_of
from zoo.autoencoder.networks import build_decoder, build_encoder, check_architecture
from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError, InvalidInputError

# Burda et al. (2016) count a latent unit as active when the variance of its
# posterior mean over the data exceeds 0.01.
ACTIVE_UNIT_THRESHOLD = 0.01


def bernoulli_log_likelihood(images, logits):
    """Return log p(x|z) of each image in nats, shape (batch,).

    Uses the stable form `x * l - softplus(l)` summed over the pixels, the
    negative of binary cross-entropy from logits.
    """
    per_pixel = images * logits - ops.softplus(logits)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1)


def gaussian_kl_per_dim(z_mean, z_log_var):
    """Return KL(N(z_mean, exp(z_log_var)) || N(0, 1)) per latent unit, in nats."""
    return -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


@keras.saving.register_keras_serializable(package="zoo")
class VAE(PhaseModel):
    """A convolutional beta-VAE trained in one phase on the negative ELBO.

    The loss per batch is `reconstruction_loss + kl_weight * kl_loss`, where
    `reconstruction_loss` is the binary cross-entropy from logits summed over
    the pixels and `kl_loss` is KL(q(z|x) || N(0, I)) summed over the latent
    units, both averaged over the batch. `kl_weight` rises linearly from 0 to
    `beta` over the first `kl_warmup_steps` training steps (Bowman et al.,
    2016), then stays at `beta`.

    Args:
        input_shape: `(height, width, channels)`; height and width divisible
            by `2 ** len(filters)`.
        latent_dim: the size of `z`.
        filters: channel counts of the stride-2 convolutions.
        hidden_units: width of the dense layer next to `z`, 0 for none.
        beta: the weight of the KL term after warm-up; 1 gives the ELBO.
        kl_warmup_steps: training steps of the linear warm-up, 0 for none.
        learning_rate: the Adam learning rate of `default_optimizers()`.
        seed: the seed of the generator that draws eps.

    Logged values: `reconstruction_loss`, `kl_loss`, `elbo` (nats per image,
    `-(reconstruction_loss + kl_loss)` whatever `beta` is), `kl_weight`, and
    `active_units`, the number of latent units whose `z_mean` varies over
    the batch by more than 0.01; a value near 0 flags posterior collapse.
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=16,
        filters=(32, 64),
        hidden_units=256,
        beta=1.0,
        kl_warmup_steps=0,
        learning_rate=1e-3,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        input_shape, latent_dim, filters, hidden_units = check_architecture(
            input_shape, latent_dim, filters, hidden_units
        )
        if not beta >= 0:
            raise InvalidConfigError(f"beta must be >= 0. Received: {beta!r}")
        if not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise InvalidConfigError(
                f"kl_warmup_steps must be an integer >= 0. Received: {kl_warmup_steps!r}"
            )

        self.encoder = build_encoder(
            input_shape, latent_dim, filters, hidden_units, ("z_mean", "z_log_var")
        )
        self.decoder = build_decoder(input_shape, latent_dim, filters, hidden_units, "logits")
        self.seed_generator = keras.random.SeedGenerator(seed, name="eps_seed")

        # Counts training steps for the KL warm-up. It lives on the model
        # (not the optimizer) so that it travels through the JAX state with
        # the other non-trainable variables and is saved in `.keras` files.
        self.train_steps = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", trainable=False, name="train_steps"
        )
        self.add_trackers(["reconstruction_loss", "kl_loss", "elbo", "kl_weight", "active_units"])
        self.built = True

        self.image_shape = input_shape
        self.latent_dim = latent_dim
        self.filters = filters
        self.hidden_units = hidden_units
        self.beta = float(beta)
        self.kl_warmup_steps = kl_warmup_steps
        self.learning_rate = float(learning_rate)
        self.seed = seed

    def call(self, images, training=False):
        """Return the decoded posterior means: sigmoid(decoder(z_mean)), in [0, 1]."""
        z_mean, _ = self.encoder(images, training=training)
        return ops.sigmoid(self.decoder(z_mean, training=training))

    def update_phases(self):
        return [
            UpdatePhase(
                "elbo",
                self.elbo_phase_loss,
                lambda: self.encoder.trainable_variables + self.decoder.trainable_variables,
            )
        ]

    def default_optimizers(self):
        return {"elbo": keras.optimizers.Adam(self.learning_rate)}

    def kl_weight(self, step):
        """Return the KL weight after `step` training steps (a number or tensor)."""
        if self.kl_warmup_steps == 0:
            return ops.convert_to_tensor(self.beta, "float32")
        progress = ops.minimum(ops.cast(step, "float32") / float(self.kl_warmup_steps), 1.0)
        return self.beta * progress

    def reparameterize(self, z_mean, z_log_var):
        """Draw z = z_mean + exp(z_log_var / 2) * eps with eps ~ N(0, I)."""
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def elbo_phase_loss(self, data, training):
        images = ops.convert_to_tensor(images_of(data), dtype="float32")
        z_mean, z_log_var = self.encoder(images, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        logits = self.decoder(z, training=training)

        reconstruction_loss = -ops.mean(bernoulli_log_likelihood(images, logits))
        kl_loss = ops.mean(ops.sum(gaussian_kl_per_dim(z_mean, z_log_var), axis=1))
        kl_weight = self.kl_weight(self.train_steps)
        if training:
            self.train_steps.assign_add(1.0)

        loss = reconstruction_loss + kl_weight * kl_loss
        active_units = ops.sum(
            ops.cast(ops.var(z_mean, axis=0) > ACTIVE_UNIT_THRESHOLD, "float32")
        )
        return loss, {
            "reconstruction_loss": reconstruction_loss,
            "kl_loss": kl_loss,
            "elbo": -(reconstruction_loss + kl_loss),
            "kl_weight": kl_weight,
            "active_units": active_units,
        }

    def importance_weighted_bound(self, images, num_samples=64, seed=0):
        """Return the IWAE lower bound on log p(x) of each image, in nats.

        log p(x) >= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x)
        (Burda et al., 2016). The bound tightens as K grows; with K = 1 it is
        the ELBO. Runs eagerly, one batch at a time.

        Note: Fashion-MNIST and the faces have grey values, and the Bernoulli
        "likelihood" of a grey pixel is a cross-entropy, not a probability.
        Compare these numbers between models on the same data only.

        Args:
            images: float32 array (batch, height, width, channels) in [0, 1].
            num_samples: K, the number of posterior samples per image.
            seed: the seed of the eps draws, for a repeatable estimate.

        Returns:
            float64 NumPy array of shape (batch,).
        """
        if not isinstance(num_samples, int) or num_samples < 1:
            raise InvalidConfigError(f"num_samples must be an integer >= 1. Received: {num_samples!r}")
        images = np.asarray(images, dtype="float32")
        if images.shape[1:] != self.image_shape:
            raise InvalidInputError(
                f"importance_weighted_bound expects images of shape (batch, "
                f"{', '.join(map(str, self.image_shape))}). Received: {images.shape}"
            )

        images = ops.convert_to_tensor(images)
        seed_generator = keras.random.SeedGenerator(seed)
        z_mean, z_log_var = self.encoder(images, training=False)
        log_weights = []
        for _ in range(num_samples):
            eps = keras.random.normal(ops.shape(z_mean), seed=seed_generator)
            z = z_mean + ops.exp(0.5 * z_log_var) * eps
            log_px_z = bernoulli_log_likelihood(images, self.decoder(z, training=False))
            log_pz = -0.5 * ops.sum(ops.square(z) + math.log(2 * math.pi), axis=1)
            log_qz_x = -0.5 * ops.sum(
                ops.square(eps) + z_log_var + math.log(2 * math.pi), axis=1
            )
            log_weights.append(ops.convert_to_numpy(log_px_z + log_pz - log_qz_x).astype("float64"))

        log_weights = np.stack(log_weights)
        peak = log_weights.max(axis=0)
        return peak + np.log(np.mean(np.exp(log_weights - peak), axis=0))

    def exportable_parts(self):
        """Return the encoder (`images` -> `z_mean`, `z_log_var`) and the decoder.

        The exported decoder wraps the logits decoder with a sigmoid, so it
        maps `z` to `images` in [0, 1] like every zoo decoder.
        """
        height, width, channels = self.image_shape
        metadata = {
            "model_name": self.name,
            "input_height": height,
            "input_width": width,
            "input_channels": channels,
            "latent_dim": self.latent_dim,
        }
        z = keras.Input(shape=(self.latent_dim,), name="z")
        images = keras.layers.Activation("sigmoid", name="images")(self.decoder(z))
        image_decoder = keras.Model(z, images, name="image_decoder")
        return {
            "encoder": ExportPart(self.encoder, "encoder", dict(metadata)),
            "decoder": ExportPart(image_decoder, "decoder", dict(metadata)),
        }

    def get_config(self):
        return {
            "name": self.name,
            "input_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "filters": list(self.filters),
            "hidden_units": self.hidden_units,
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }
