"""The GAN training models: GAN (Goodfellow et al. 2014), DCGAN and Pix2Pix.

Each model has two update phases: "discriminator", run `discriminator_steps`
times per training step, each on its own slice of the batch and on fresh
noise, then "generator", run once. Generators work in [-1, 1] (tanh), so the
training models rescale real images from [0, 1] to [-1, 1], and the
exportable parts rescale generated images back to [0, 1].
"""

import keras
from keras import ops

from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError
from zoo.gan import losses, networks

GAN_TRACKERS = ["d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"]


def _images_of(data):
    """Return the images of a batch given as `images`, `(images,)` or `(images, labels)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _to_tanh_range(images):
    return images * 2.0 - 1.0


def _check_label_smoothing(real_target):
    if not 0.5 < real_target <= 1.0:
        raise InvalidConfigError(
            "The real-image target of the discriminator must be in (0.5, 1]; "
            "1.0 means no label smoothing and 0.9 the usual one-sided "
            f"smoothing. Received: real_target={real_target!r}"
        )


@keras.saving.register_keras_serializable(package="zoo")
class GAN(PhaseModel):
    """The original GAN: MLP generator and discriminator (Goodfellow et al. 2014).

    Each training step runs Algorithm 1 of the paper. First come
    `discriminator_steps` (k) discriminator updates: update i uses slice i of
    the batch of real images and as many fresh noise vectors. Then one
    generator update uses as many noise vectors as the whole batch has images. Train on batches
    of the form `images` or `(images, labels)`, float32 (N, H, W, C) in
    [0, 1]; labels are ignored. N must be a multiple of k.

    Args:
        latent_dim: length of the noise vector z ~ N(0, I).
        image_shape: `(height, width, channels)` of the images.
        discriminator_steps: k, discriminator updates per generator update.
        generator_loss: `"non_saturating"` (default) or `"minimax"`; see
            `zoo.gan.losses.generator_loss`.
        real_target: the discriminator's target for real images; 0.9 is
            one-sided label smoothing.
        learning_rate: Adam learning rate of both default optimizers.
        beta_1: Adam beta_1 of both default optimizers.
        seed: seed of the noise generator.
    """

    def __init__(
        self,
        latent_dim=100,
        image_shape=(28, 28, 1),
        discriminator_steps=1,
        generator_loss="non_saturating",
        real_target=1.0,
        learning_rate=2e-4,
        beta_1=0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(discriminator_steps, int) or discriminator_steps < 1:
            raise InvalidConfigError(
                "discriminator_steps must be an integer >= 1. "
                f"Received: {discriminator_steps!r}"
            )
        if generator_loss not in losses.GENERATOR_LOSSES:
            raise InvalidConfigError(
                f"generator_loss must be one of {losses.GENERATOR_LOSSES}. "
                f"Received: {generator_loss!r}"
            )
        _check_label_smoothing(real_target)

        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(image_shape)
        self.discriminator_steps = discriminator_steps
        self.generator_loss_form = generator_loss
        self.real_target = float(real_target)
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.seed = seed

        self.generator = self.build_generator()
        self.discriminator = self.build_discriminator()
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers(GAN_TRACKERS)
        self.built = True

    def build_generator(self):
        return networks.mlp_generator(self.latent_dim, self.image_shape)

    def build_discriminator(self):
        return networks.mlp_discriminator(self.image_shape)

    def update_phases(self):
        return [
            UpdatePhase(
                "discriminator",
                self.discriminator_loss,
                lambda: self.discriminator.trainable_variables,
                repeats=self.discriminator_steps,
            ),
            UpdatePhase(
                "generator",
                self.generator_loss,
                lambda: self.generator.trainable_variables,
            ),
        ]

    def default_optimizers(self):
        return {
            "discriminator": keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1),
            "generator": keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1),
        }

    def sample_noise(self, count):
        """Draw `count` noise vectors z ~ N(0, I) from the model's seed generator."""
        return keras.random.normal((count, self.latent_dim), seed=self.seed_generator)

    def discriminator_loss(self, data, training):
        real_images = _to_tanh_range(_images_of(data))
        noise = self.sample_noise(ops.shape(real_images)[0])

        # The generator is not updated in this phase.
        fake_images = ops.stop_gradient(self.generator(noise, training=training))

        real_logits = self.discriminator(real_images, training=training)
        fake_logits = self.discriminator(fake_images, training=training)
        d_loss = losses.discriminator_loss(real_logits, fake_logits, self.real_target)
        return d_loss, {
            "d_loss": d_loss,
            "d_real_accuracy": losses.real_accuracy(real_logits),
            "d_fake_accuracy": losses.fake_accuracy(fake_logits),
        }

    def generator_loss(self, data, training):
        noise = self.sample_noise(ops.shape(_images_of(data))[0])
        fake_images = self.generator(noise, training=training)
        fake_logits = self.discriminator(fake_images, training=training)
        g_loss = losses.generator_loss(fake_logits, self.generator_loss_form)
        return g_loss, {"g_loss": g_loss}

    def generate(self, z, batch_size=256):
        """Generate images in [0, 1] from noise `z` of shape (N, latent_dim)."""
        images = self.generator.predict(z, batch_size=batch_size, verbose=0)
        return (images + 1.0) / 2.0

    def exportable_parts(self):
        height, width, channels = self.image_shape
        z = keras.Input(shape=(self.latent_dim,), name="z")
        generated = self.generator(z, training=False)
        images = keras.layers.Rescaling(0.5, offset=0.5, name="images")(generated)
        part = keras.Model(z, images, name="generator_part")
        return {
            "generator": ExportPart(
                part,
                "generator",
                {
                    "latent_dim": self.latent_dim,
                    "input_height": height,
                    "input_width": width,
                    "input_channels": channels,
                    "model_name": type(self).__name__,
                },
            )
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
            discriminator_steps=self.discriminator_steps,
            generator_loss=self.generator_loss_form,
            real_target=self.real_target,
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al. 2016).

    Same training step as `GAN`; a transposed-convolution generator with
    BatchNorm and ReLU and a strided-convolution discriminator with
    LeakyReLU, both initialised from N(0, 0.02), trained with Adam at
    2e-4 and beta_1 = 0.5.

    Args:
        filters: channels of the discriminator's first convolution; the
            generator's last hidden layer has twice as many.
        **kwargs: the arguments of `GAN`. Height and width must be
            divisible by 4.
    """

    def __init__(self, filters=64, **kwargs):
        self.filters = int(filters)
        super().__init__(**kwargs)

    def build_generator(self):
        return networks.dcgan_generator(self.latent_dim, self.image_shape, self.filters)

    def build_discriminator(self):
        return networks.dcgan_discriminator(self.image_shape, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class Pix2Pix(PhaseModel):
    """Image-to-image translation with a conditional GAN (Isola et al. 2017).

    A U-Net generator translates an input image. A PatchGAN discriminator
    receives the input stacked with either the real target or the translation. The
    generator minimises the non-saturating adversarial loss plus
    `l1_weight` times the mean absolute error to the target, measured in the
    [-1, 1] range of the generator as in the paper. The discriminator loss
    is halved, as in the paper. Train on batches `(inputs, targets)`, both
    float32 (N, H, W, C) in [0, 1].

    Trackers: `d_loss`, `g_loss` (the adversarial term), `l1_loss` (in
    [0, 1] units, so that it reads as the pixel error), `d_real_accuracy` and
    `d_fake_accuracy` (fractions of patches classified correctly).

    Args:
        image_shape: `(height, width, channels)` of the input images.
        target_channels: channels of the targets; default the input's.
        l1_weight: lambda, the weight of the L1 term.
        generator_filters: channels of the U-Net's first level.
        discriminator_filters: channels of the PatchGAN's first level.
        dropout: dropout rate of the U-Net's innermost decoder levels.
        learning_rate: Adam learning rate of both default optimizers.
        beta_1: Adam beta_1 of both default optimizers.
    """

    def __init__(
        self,
        image_shape=(32, 32, 1),
        target_channels=None,
        l1_weight=100.0,
        generator_filters=32,
        discriminator_filters=32,
        dropout=0.5,
        learning_rate=2e-4,
        beta_1=0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if l1_weight < 0:
            raise InvalidConfigError(
                f"l1_weight must be >= 0. Received: l1_weight={l1_weight!r}"
            )
        self.image_shape = tuple(image_shape)
        self.target_channels = int(target_channels or self.image_shape[-1])
        self.l1_weight = float(l1_weight)
        self.generator_filters = int(generator_filters)
        self.discriminator_filters = int(discriminator_filters)
        self.dropout = float(dropout)
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)

        target_shape = (*self.image_shape[:2], self.target_channels)
        self.generator = networks.unet_generator(
            self.image_shape, self.target_channels, self.generator_filters, dropout=self.dropout
        )
        self.discriminator = networks.patchgan_discriminator(
            self.image_shape, target_shape, self.discriminator_filters
        )
        self.add_trackers(GAN_TRACKERS + ["l1_loss"])
        self.built = True

    def update_phases(self):
        return [
            UpdatePhase(
                "discriminator",
                self.discriminator_loss,
                lambda: self.discriminator.trainable_variables,
            ),
            UpdatePhase(
                "generator",
                self.generator_loss,
                lambda: self.generator.trainable_variables,
            ),
        ]

    def default_optimizers(self):
        return {
            "discriminator": keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1),
            "generator": keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1),
        }

    def _pair(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise InvalidConfigError(
                "Pix2Pix trains on batches (inputs, targets). Received a "
                f"batch of type {type(data).__name__}; pass fit(x=inputs, y=targets)."
            )
        return _to_tanh_range(data[0]), _to_tanh_range(data[1])

    def discriminator_loss(self, data, training):
        inputs, targets = self._pair(data)

        # The generator is not updated in this phase.
        translated = ops.stop_gradient(self.generator(inputs, training=training))

        real_logits = self.discriminator([inputs, targets], training=training)
        fake_logits = self.discriminator([inputs, translated], training=training)
        d_loss = 0.5 * losses.discriminator_loss(real_logits, fake_logits)
        return d_loss, {
            "d_loss": d_loss,
            "d_real_accuracy": losses.real_accuracy(real_logits),
            "d_fake_accuracy": losses.fake_accuracy(fake_logits),
        }

    def generator_loss(self, data, training):
        inputs, targets = self._pair(data)
        translated = self.generator(inputs, training=training)
        fake_logits = self.discriminator([inputs, translated], training=training)

        g_loss = losses.generator_loss(fake_logits, "non_saturating")
        l1_tanh_range = ops.mean(ops.abs(translated - targets))
        total = g_loss + self.l1_weight * l1_tanh_range
        return total, {"g_loss": g_loss, "l1_loss": 0.5 * l1_tanh_range}

    def translate(self, images, batch_size=64):
        """Translate images in [0, 1] to images in [0, 1], in inference mode."""
        translated = self.generator.predict(images * 2.0 - 1.0, batch_size=batch_size, verbose=0)
        return (translated + 1.0) / 2.0

    def exportable_parts(self):
        height, width, channels = self.image_shape
        images = keras.Input(shape=self.image_shape, name="images")
        scaled = keras.layers.Rescaling(2.0, offset=-1.0, name="to_tanh_range")(images)
        generated = self.generator(scaled, training=False)
        translated = keras.layers.Rescaling(0.5, offset=0.5, name="translated")(generated)
        part = keras.Model(images, translated, name="translator_part")
        return {
            "generator": ExportPart(
                part,
                "translator",
                {
                    "input_height": height,
                    "input_width": width,
                    "input_channels": channels,
                    "output_channels": self.target_channels,
                    "model_name": type(self).__name__,
                },
            )
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            target_channels=self.target_channels,
            l1_weight=self.l1_weight,
            generator_filters=self.generator_filters,
            discriminator_filters=self.discriminator_filters,
            dropout=self.dropout,
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
        )
        return config
