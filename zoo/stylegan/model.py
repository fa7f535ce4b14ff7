"""`StyleGAN`: the training model of the style-based generator.

The generator is a mapping network f: z -> w and a synthesis network g that
takes one w per layer (Karras et al. 2019), with the modulated and
demodulated convolutions and residual discriminator of StyleGAN2 (Karras et
al. 2020). The synthesis network works in [-1, 1], so the training model
rescales real images from [0, 1] and the exportable parts rescale the
generated images back to [0, 1].
"""

import keras
import numpy as np
from keras import ops

from zoo.backend import input_gradients
from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError
from zoo.gan import losses
from zoo.stylegan import layers, networks

STYLEGAN_TRACKERS = ["d_loss", "g_loss", "r1_penalty", "d_real_accuracy", "d_fake_accuracy"]
# The largest difference allowed between exported parts and Keras, in [0, 1]
# pixels. The serving layer allows the same between generator.onnx and
# mapping.onnx + synthesis.onnx.
STYLE_PARITY_TOLERANCE = 1e-4


def _images_of(data):
    """Return the images of a batch given as `images`, `(images,)` or `(images, labels)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _in_batches(function, array, batch_size):
    """Apply `function` to `array` in batches of exactly `batch_size` rows, as NumPy.

    The last batch is padded with zeros and trimmed after the call, so that
    every call has the same shape: under JAX each new shape recompiles.
    """
    array = np.asarray(ops.convert_to_numpy(array), dtype="float32")
    outputs = []
    for start in range(0, len(array), batch_size):
        batch = array[start : start + batch_size]
        rows = len(batch)
        if rows < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - rows, *batch.shape[1:]), batch.dtype)])
        outputs.append(ops.convert_to_numpy(function(batch))[:rows])
    return np.concatenate(outputs)


def mix_styles(w_first, w_second, crossover, num_ws):
    """Return per-layer styles: w_first for the layers before `crossover`, w_second from it on.

    Args:
        w_first: (N, w_dim), the styles of the coarse layers.
        w_second: (N, w_dim), the styles of the fine layers.
        crossover: an int, or an int tensor (N,) or (N, 1), in [0, num_ws];
            num_ws keeps w_first everywhere.
        num_ws: the number of synthesis layers that take a style.

    Returns:
        A tensor (N, num_ws, w_dim).
    """
    crossover = ops.reshape(ops.convert_to_tensor(crossover, "int32"), (-1, 1))
    layer = ops.arange(num_ws, dtype="int32")[None, :]
    use_first = ops.expand_dims(layer < crossover, -1)
    return ops.where(use_first, w_first[:, None, :], w_second[:, None, :])


@keras.saving.register_keras_serializable(package="zoo")
class StyleGAN(PhaseModel):
    """A small style-based GAN with style mixing, truncation and the R1 penalty.

    Each training step has two update phases:

    - "discriminator": the logistic loss -log D(x) - log(1 - D(G(z))) plus
      the R1 penalty (gamma / 2) E ||grad_x D(x)||^2 on real images
      (Mescheder et al. 2018). With `r1_interval` = n > 1 the penalty is
      lazy (Karras et al. 2020): it enters the loss on every n-th
      discriminator update, scaled by n, and is multiplied by 0 otherwise.
      The 0/1 factor comes from a step counter inside the graph, so the
      graph is the same on every step. NOTE: the penalty is still computed
      on every step, so the laziness saves no time here; it reproduces the
      weighting only. The counter is a model variable rather than the
      optimizer's iteration count because under JAX the phase loss cannot
      read optimizer variables.
    - "generator": the non-saturating loss -log D(G(z)).

    With probability `mixing_probability` a sample is drawn from two
    latents: w1 = f(z1) styles the layers before a random crossover layer
    and w2 = f(z2) the rest (style mixing regularisation). w_avg, the
    running mean of f(z), moves by `w_avg_beta` on every generator update
    and serves the truncation trick w = w_avg + psi (w - w_avg).

    Sampling, the pictures and the exported parts use a moving average of
    the generator's weights (Karras et al. 2018, kept in StyleGAN2), not the
    weights being trained: single generator updates swing the samples from
    one kind of image to another, and their average does not. The weight of
    an update in the average halves every `ema_half_life` images. Early in
    training the half-life is at most `ema_rampup` times the images seen so
    far, so the average follows the fast early changes. Each generator
    update moves the average towards the weights before that update, so it
    trails the trained weights by one step.

    Train on batches `images` or `(images, labels)`, float32 (N, H, W, C) in
    [0, 1]; labels are ignored. N must be a multiple of the minibatch-stddev
    group size (4) or smaller than it.

    Args:
        latent_dim: the size of z ~ N(0, I).
        w_dim: the size of w.
        mapping_layers: dense layers of the mapping network.
        image_shape: `(size, size, channels)`, size a power of 2 >= 8.
        filters: channels at full resolution in both networks, doubled per
            halving of the resolution.
        max_filters: the maximum number of channels of any layer.
        mixing_probability: the probability of style mixing per sample.
        r1_gamma: gamma of the R1 penalty; 0 turns it off.
        r1_interval: n of lazy regularisation; 1 applies R1 on every step.
        w_avg_beta: the decay of the running mean w_avg.
        learning_rate: Adam learning rate of both default optimizers.
        beta_1: Adam beta_1 (0 in StyleGAN2).
        beta_2: Adam beta_2 (0.99 in StyleGAN2).
        mapping_lr_multiplier: learning-rate multiplier of the mapping network.
        interpolation: `"nearest"` or `"bilinear"` upsampling in the synthesis network.
        ema_half_life: images per halving of the generator average's weight
            (10,000 in StyleGAN2); 0 samples from the trained weights.
        ema_rampup: the cap on the half-life, as a fraction of the images
            seen so far. None turns the ramp-up off.
        seed: seed of the latent and noise generators; None draws one.
    """

    def __init__(
        self,
        latent_dim=64,
        w_dim=64,
        mapping_layers=4,
        image_shape=(32, 32, 1),
        filters=16,
        max_filters=128,
        mixing_probability=0.9,
        r1_gamma=0.2,
        r1_interval=4,
        w_avg_beta=0.995,
        learning_rate=2e-3,
        beta_1=0.0,
        beta_2=0.99,
        mapping_lr_multiplier=0.01,
        interpolation="bilinear",
        ema_half_life=10000,
        ema_rampup=0.05,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        networks.check_image_shape(image_shape)
        if not 0.0 <= mixing_probability <= 1.0:
            raise InvalidConfigError(
                f"mixing_probability must be in [0, 1]. Received: {mixing_probability!r}"
            )
        if r1_gamma < 0:
            raise InvalidConfigError(f"r1_gamma must be >= 0. Received: {r1_gamma!r}")
        if not isinstance(r1_interval, int) or r1_interval < 1:
            raise InvalidConfigError(f"r1_interval must be an integer >= 1. Received: {r1_interval!r}")
        if not 0.0 <= w_avg_beta < 1.0:
            raise InvalidConfigError(f"w_avg_beta must be in [0, 1). Received: {w_avg_beta!r}")
        if not ema_half_life >= 0:
            raise InvalidConfigError(
                f"ema_half_life must be >= 0 images (0 turns the average off). Received: {ema_half_life!r}"
            )
        if ema_rampup is not None and not ema_rampup > 0:
            raise InvalidConfigError(f"ema_rampup must be > 0 or None. Received: {ema_rampup!r}")

        self.latent_dim = int(latent_dim)
        self.w_dim = int(w_dim)
        self.mapping_layers = int(mapping_layers)
        self.image_shape = tuple(image_shape)
        self.filters = int(filters)
        self.max_filters = int(max_filters)
        self.mixing_probability = float(mixing_probability)
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = r1_interval
        self.w_avg_beta = float(w_avg_beta)
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.mapping_lr_multiplier = float(mapping_lr_multiplier)
        self.interpolation = interpolation
        self.ema_half_life = float(ema_half_life)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.seed = seed
        self.num_ws = networks.num_styles(self.image_shape[0])

        self.mapping = networks.mapping_network(
            self.latent_dim, self.w_dim, self.mapping_layers, self.mapping_lr_multiplier
        )
        self.synthesis = networks.synthesis_network(
            self.image_shape, self.w_dim, self.filters, self.max_filters, self.interpolation, seed
        )
        self.discriminator = networks.discriminator_network(self.image_shape, self.filters, self.max_filters)
        self.mapping_ema = None
        self.synthesis_ema = None
        if self.ema_half_life > 0:
            self.mapping_ema, self.synthesis_ema = self._build_generator_average()
        self.truncation = layers.Truncation(self.w_dim, name="truncation")
        self.truncation.build()
        self.discriminator_updates = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False, name="discriminator_updates"
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.add_trackers(STYLEGAN_TRACKERS)
        self.built = True

    def _build_generator_average(self):
        """Return copies of the mapping and synthesis networks, frozen, with the trained weights."""
        mapping = networks.mapping_network(
            self.latent_dim, self.w_dim, self.mapping_layers, self.mapping_lr_multiplier, name="mapping_ema"
        )
        synthesis = networks.synthesis_network(
            self.image_shape,
            self.w_dim,
            self.filters,
            self.max_filters,
            self.interpolation,
            self.seed,
            name="synthesis_ema",
        )
        for average, network in ((mapping, self.mapping), (synthesis, self.synthesis)):
            average.set_weights(network.get_weights())
            average.trainable = False
        return mapping, synthesis

    def _averaged_weights(self):
        """Return (trained, averaged) pairs of the generator's trainable weights."""
        pairs = []
        for network, average in ((self.mapping, self.mapping_ema), (self.synthesis, self.synthesis_ema)):
            pairs += [(source, target) for source, target in zip(network.weights, average.weights) if source.trainable]
        return pairs

    def update_generator_average(self, batch_size):
        """Move the averaged generator weights towards the trained ones after `batch_size` more images."""
        half_life = ops.convert_to_tensor(self.ema_half_life, "float32")
        if self.ema_rampup is not None:
            # discriminator_updates counts the steps so far: this step's
            # discriminator phase has already run.
            images_seen = ops.cast(self.discriminator_updates, "float32") * ops.cast(batch_size, "float32")
            half_life = ops.minimum(half_life, ops.maximum(images_seen * self.ema_rampup, 1e-8))
        beta = ops.power(0.5, ops.cast(batch_size, "float32") / half_life)

        for source, target in self._averaged_weights():
            value = ops.stop_gradient(ops.convert_to_tensor(source))
            target.assign(value + beta * (target - value))

    @property
    def sampling_networks(self):
        """The (mapping, synthesis) networks that sample: the weight average when there is one."""
        if self.mapping_ema is None:
            return self.mapping, self.synthesis
        return self.mapping_ema, self.synthesis_ema

    @property
    def w_avg(self):
        """The running mean of w, a non-trainable variable (w_dim,)."""
        return self.truncation.w_avg

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
                lambda: self.mapping.trainable_variables + self.synthesis.trainable_variables,
            ),
        ]

    def default_optimizers(self):
        def adam():
            return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=1e-8)

        return {"discriminator": adam(), "generator": adam()}

    def sample_ws(self, batch_size, training):
        """Draw styles (N, num_ws, w_dim) for training, with style mixing.

        Returns:
            `(ws, w)`: the per-layer styles and the unmixed w = f(z1) (N, w_dim).
        """
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        w = self.mapping(z, training=training)
        if self.mixing_probability == 0.0:
            return ops.repeat(w[:, None, :], self.num_ws, axis=1), w

        # A mixed sample switches to w2 at a crossover layer in [1, num_ws);
        # an unmixed one has its crossover at num_ws, past the last layer.
        z_second = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        w_second = self.mapping(z_second, training=training)
        crossover = keras.random.randint((batch_size,), 1, self.num_ws, seed=self.seed_generator)
        mixed = keras.random.uniform((batch_size,), seed=self.seed_generator) < self.mixing_probability
        crossover = ops.where(mixed, crossover, self.num_ws)
        return mix_styles(w, w_second, crossover, self.num_ws), w

    def r1_penalty(self, real_images, training):
        """Return (gamma / 2) * mean over the batch of ||grad_x D(x)||^2, on images in [-1, 1]."""

        def logits(images):
            return self.discriminator(images, training=training)

        gradients = input_gradients(logits, real_images)
        squared_norms = ops.sum(ops.square(gradients), axis=(1, 2, 3))
        return 0.5 * self.r1_gamma * ops.mean(squared_norms)

    def discriminator_loss(self, data, training):
        real_images = _images_of(data) * 2.0 - 1.0
        ws, _ = self.sample_ws(ops.shape(real_images)[0], training)

        # The generator is not updated in this phase.
        fake_images = ops.stop_gradient(self.synthesis(ws, training=training))

        real_logits = self.discriminator(real_images, training=training)
        fake_logits = self.discriminator(fake_images, training=training)
        d_loss = losses.discriminator_loss(real_logits, fake_logits)
        logs = {
            "d_loss": d_loss,
            "d_real_accuracy": losses.real_accuracy(real_logits),
            "d_fake_accuracy": losses.fake_accuracy(fake_logits),
        }
        # Lazy regularisation: weight n on every n-th update, 0 on the others.
        # `due` is read before the counter moves because torch updates variables in place.
        due = ops.equal(ops.mod(self.discriminator_updates, self.r1_interval), 0)
        # The counter moves without R1 too, because the generator average's ramp-up reads it.
        self.discriminator_updates.assign_add(1)
        if self.r1_gamma == 0.0:
            logs["r1_penalty"] = ops.zeros(())
            return d_loss, logs

        penalty = self.r1_penalty(real_images, training)
        weight = ops.cast(due, penalty.dtype) * float(self.r1_interval)
        logs["r1_penalty"] = penalty
        return d_loss + weight * penalty, logs

    def generator_loss(self, data, training):
        ws, w = self.sample_ws(ops.shape(_images_of(data))[0], training)
        fake_images = self.synthesis(ws, training=training)
        fake_logits = self.discriminator(fake_images, training=training)
        g_loss = losses.generator_loss(fake_logits, "non_saturating")
        if training:
            # NOTE: w_avg follows the trained mapping network, but truncation applies it
            # to the averaged one. They differ little, because the mapping network learns
            # 100 times slower than the rest.
            self.truncation.track(w, self.w_avg_beta)
            if self.mapping_ema is not None:
                self.update_generator_average(ops.shape(ws)[0])
        return g_loss, {"g_loss": g_loss}

    # Sampling, in inference mode: the noise layers add their fixed noise maps.

    def map(self, z, batch_size=64):
        """Return w = f(z) for z of shape (N, latent_dim), as a NumPy array."""
        mapping, _ = self.sampling_networks
        return _in_batches(lambda batch: mapping(batch, training=False), z, batch_size)

    def truncate(self, w, psi):
        """Return w_avg + psi * (w - w_avg) for w of shape (N, w_dim), as a NumPy array."""
        w = ops.convert_to_tensor(w, "float32")
        psi = ops.full((ops.shape(w)[0], 1), psi, dtype="float32")
        return ops.convert_to_numpy(self.truncation([w, psi]))

    def synthesize(self, ws, batch_size=64):
        """Return images in [0, 1] for per-layer styles ws (N, num_ws, w_dim) or one w (N, w_dim)."""
        ws = np.asarray(ops.convert_to_numpy(ws), dtype="float32")
        if ws.ndim == 2:
            ws = np.repeat(ws[:, None, :], self.num_ws, axis=1)

        _, synthesis = self.sampling_networks

        def images(batch):
            return ops.clip((synthesis(batch, training=False) + 1.0) / 2.0, 0.0, 1.0)

        return _in_batches(images, ws, batch_size)

    def generate(self, z, psi=1.0, batch_size=64):
        """Return images in [0, 1] for z (N, latent_dim), truncated with `psi`."""
        return self.synthesize(self.truncate(self.map(z, batch_size), psi), batch_size)

    def exportable_parts(self):
        """Return the `mapping`, `synthesis` and `generator` parts.

        - `mapping`: `z (N, latent_dim)` and `psi (N, 1)` -> `w (N, w_dim)`,
          truncated around the current w_avg: w_avg + psi (f(z) - w_avg).
        - `synthesis`: `ws (N, num_ws, w_dim)`, one w per synthesis layer,
          -> `images (N, H, W, C)` in [0, 1]. Per-layer styles let a caller
          mix the styles of two latents outside Keras.
        - `generator`: `z (N, latent_dim)` and `psi (N, 1)` -> `images`:
          the mapping part, then the synthesis part with one w for every layer.

        Every part's metadata has `latent_dim`, `w_dim`, `num_ws` and
        `style_resolutions`: per style index, comma-separated, the
        resolution of the convolutions it modulates (a toRGB layer shares
        the index of the next convolution). A crossover k of style mixing
        takes layers 0 .. k-1 from the first source and k .. num_ws-1 from
        the second.

        The noise layers add their fixed noise maps (drawn once from fixed
        seeds and saved with the weights), so every part is deterministic.
        Every part carries the averaged generator weights when the model
        keeps an average.
        """
        sampling_mapping, _ = self.sampling_networks
        height, width, channels = self.image_shape
        style_metadata = {
            "model_name": type(self).__name__,
            "latent_dim": self.latent_dim,
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "style_resolutions": ",".join(str(size) for size in self._style_resolutions()),
        }
        image_metadata = dict(style_metadata, input_height=height, input_width=width, input_channels=channels)

        z = keras.Input(shape=(self.latent_dim,), name="z")
        psi = keras.Input(shape=(1,), name="psi")
        w = keras.layers.Identity(name="w")(self.truncation([sampling_mapping(z, training=False), psi]))
        mapping = keras.Model([z, psi], w, name="mapping_part")

        ws = keras.Input(shape=(self.num_ws, self.w_dim), name="ws")
        synthesis = keras.Model(ws, self._images_from_ws(ws), name="synthesis_part")

        z_input = keras.Input(shape=(self.latent_dim,), name="z")
        psi_input = keras.Input(shape=(1,), name="psi")
        truncated = self.truncation([sampling_mapping(z_input, training=False), psi_input])
        broadcast = layers.BroadcastStyle(self.num_ws)(truncated)
        generator = keras.Model([z_input, psi_input], self._images_from_ws(broadcast), name="generator_part")

        # NOTE: no task of `zoo.core.parts.TASKS` names a z -> w map or a
        # ws -> images synthesis, so those parts use "encoder" and "decoder"
        # and their `part_role` metadata names them; serving reads part_role.
        # Every synthesis layer demodulates with a per-sample rsqrt of summed
        # squared weights, which the ONNX graph rounds differently, so a
        # trained 32x32 generator differs from Keras by about 1.1e-5 per pixel.
        tolerance = STYLE_PARITY_TOLERANCE
        return {
            "generator": ExportPart(generator, "generator", dict(image_metadata, part_role="generator"), tolerance),
            "synthesis": ExportPart(synthesis, "decoder", dict(image_metadata, part_role="synthesis"), tolerance),
            "mapping": ExportPart(mapping, "encoder", dict(style_metadata, part_role="mapping"), tolerance),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Models saved before the generator average have no weights for it,
        # so they load without one and sample from their trained weights.
        config = dict(config)
        config.setdefault("ema_half_life", 0)
        return super().from_config(config, custom_objects=custom_objects)

    def _style_resolutions(self):
        """Return the resolution of the convolutions that each style index modulates, num_ws ints."""
        size = self.image_shape[0]
        doubled = [resolution for resolution in networks.resolutions(size)[1:] for _ in range(2)]
        return [networks.START_SIZE, *doubled, size]

    def _images_from_ws(self, ws):
        _, synthesis = self.sampling_networks
        generated = synthesis(ws, training=False)
        scaled = keras.layers.Rescaling(0.5, offset=0.5)(generated)
        return keras.layers.ReLU(max_value=1.0, name="images")(scaled)

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            w_dim=self.w_dim,
            mapping_layers=self.mapping_layers,
            image_shape=list(self.image_shape),
            filters=self.filters,
            max_filters=self.max_filters,
            mixing_probability=self.mixing_probability,
            r1_gamma=self.r1_gamma,
            r1_interval=self.r1_interval,
            w_avg_beta=self.w_avg_beta,
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            mapping_lr_multiplier=self.mapping_lr_multiplier,
            interpolation=self.interpolation,
            ema_half_life=self.ema_half_life,
            ema_rampup=self.ema_rampup,
            seed=self.seed,
        )
        return config
