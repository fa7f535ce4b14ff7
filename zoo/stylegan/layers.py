"""Layers of the style-based generator (Karras et al. 2019, 2020), in `keras.ops` only.

Every weight uses the equalized learning rate of Karras et al. (2018): it is
stored with unit variance (divided by `lr_multiplier`) and scaled by
`lr_multiplier / sqrt(fan_in)` on each call, so Adam updates every layer at
the same relative speed. Images are NHWC.
"""

import math

import keras
from keras import ops

from zoo.errors import InvalidConfigError, InvalidInputError

# Slope of every LeakyReLU, as in StyleGAN.
LEAKY_SLOPE = 0.2
# The gain sqrt(2) after a LeakyReLU keeps the activations' variance near 1.
LEAKY_GAIN = math.sqrt(2.0)
# Added under the square roots of pixel norm, demodulation and minibatch stddev.
EPSILON = 1e-8
ACTIVATIONS = ("linear", "leaky_relu")


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise InvalidConfigError(
            f"activation must be one of {ACTIVATIONS}. Received: activation={activation!r}"
        )


def _activate(x, activation):
    if activation == "leaky_relu":
        return ops.leaky_relu(x, LEAKY_SLOPE) * LEAKY_GAIN
    return x


@keras.saving.register_keras_serializable(package="zoo")
class PixelNorm(keras.layers.Layer):
    """Divide each vector by its root mean square over the last axis.

    The mapping network normalises z this way, so that only the direction of
    z matters (Karras et al. 2018).
    """

    def call(self, inputs):
        return inputs * ops.rsqrt(ops.mean(ops.square(inputs), axis=-1, keepdims=True) + EPSILON)


@keras.saving.register_keras_serializable(package="zoo")
class EqualizedDense(keras.layers.Layer):
    """A dense layer with the equalized learning rate and an optional LeakyReLU.

    Args:
        units: output size.
        activation: `"linear"` or `"leaky_relu"` (slope 0.2, gain sqrt(2)).
        lr_multiplier: scales the effective learning rate of this layer;
            the mapping network uses 0.01, as in StyleGAN.
        bias_initializer: the initial value of the effective bias.
    """

    def __init__(self, units, activation="linear", lr_multiplier=1.0, bias_initializer=0.0, **kwargs):
        super().__init__(**kwargs)
        _check_activation(activation)
        self.units = int(units)
        self.activation = activation
        self.lr_multiplier = float(lr_multiplier)
        self.bias_initializer = float(bias_initializer)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            shape=(fan_in, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Constant(self.bias_initializer / self.lr_multiplier),
            name="bias",
        )

    def call(self, inputs):
        x = ops.matmul(inputs, self.kernel * self.weight_gain) + self.bias * self.lr_multiplier
        return _activate(x, self.activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            lr_multiplier=self.lr_multiplier,
            bias_initializer=self.bias_initializer,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class EqualizedConv2D(keras.layers.Layer):
    """A stride-1 "same" convolution with the equalized learning rate.

    Args:
        filters: output channels.
        kernel_size: the side of the square kernel.
        activation: `"linear"` or `"leaky_relu"` (slope 0.2, gain sqrt(2)).
        use_bias: add a learned bias per output channel.
    """

    def __init__(self, filters, kernel_size=3, activation="linear", use_bias=True, **kwargs):
        super().__init__(**kwargs)
        _check_activation(activation)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.activation = activation
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.weight_gain = 1.0 / math.sqrt(channels * self.kernel_size**2)
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, inputs):
        x = ops.conv(inputs, self.kernel * self.weight_gain, padding="same")
        if self.bias is not None:
            x = x + self.bias
        return _activate(x, self.activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            activation=self.activation,
            use_bias=self.use_bias,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ModulatedConv2D(keras.layers.Layer):
    """A convolution whose weights are scaled per sample by a style (StyleGAN2).

    The style s = A(w) is an affine map of w, initialised so that s starts
    near 1. The modulated weights of sample n are w'[n, k, k, i, o] =
    weight[k, k, i, o] * s[n, i]; with demodulation each output filter is
    then divided by its L2 norm, so that w''[n, :, :, :, o] has unit norm.
    The layer computes the same result without per-sample weights: it scales
    the input channels by s, convolves with the shared weights and scales
    the output channels by the demodulation factor
    rsqrt(sum_i s[n, i]^2 sum_k weight[k, k, i, o]^2 + 1e-8), which is the
    non-fused path of the StyleGAN2 code.

    Call it on `[x, w]`: x of shape (N, H, W, C_in), w of shape (N, w_dim).
    Returns (N, H, W, filters).

    Args:
        filters: output channels.
        kernel_size: the side of the square kernel; 1 for the toRGB layers.
        demodulate: normalise each output filter to unit norm; off in the
            toRGB layers, as in StyleGAN2.
        use_bias: add a learned bias per output channel.
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.demodulate = bool(demodulate)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels, w_dim = x_shape[-1], w_shape[-1]
        self.affine_gain = 1.0 / math.sqrt(w_dim)
        self.weight_gain = 1.0 / math.sqrt(channels * self.kernel_size**2)
        self.affine_kernel = self.add_weight(
            shape=(w_dim, channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="affine_kernel",
        )
        # A bias of 1 makes every style start near 1, so the untrained layer
        # behaves like a plain convolution.
        self.affine_bias = self.add_weight(shape=(channels,), initializer="ones", name="affine_bias")
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def styles(self, w):
        """Return the styles s = A(w), shape (N, C_in)."""
        return ops.matmul(w, self.affine_kernel * self.affine_gain) + self.affine_bias

    def modulated_weights(self, w):
        """Return the per-sample weights (N, k, k, C_in, filters), demodulated if set.

        The layer never builds these; tests compare them with a NumPy oracle.
        """
        weights = (self.kernel * self.weight_gain)[None] * self.styles(w)[:, None, None, :, None]
        if self.demodulate:
            norms = ops.sum(ops.square(weights), axis=(1, 2, 3), keepdims=True)
            weights = weights * ops.rsqrt(norms + EPSILON)
        return weights

    def call(self, inputs):
        x, w = inputs
        styles = self.styles(w)
        kernel = self.kernel * self.weight_gain

        # Scaling input channel i by s[n, i] is modulating the weights.
        x = ops.conv(x * styles[:, None, None, :], kernel, padding="same")

        # Demodulation: the norm of output filter o of sample n is
        # sqrt(sum_i s[n, i]^2 * sum_k kernel[k, k, i, o]^2).
        if self.demodulate:
            squared_norms = ops.matmul(ops.square(styles), ops.sum(ops.square(kernel), axis=(0, 1)))
            x = x * ops.rsqrt(squared_norms + EPSILON)[:, None, None, :]

        if self.bias is not None:
            x = x + self.bias
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            demodulate=self.demodulate,
            use_bias=self.use_bias,
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class NoiseInjection(keras.layers.Layer):
    """Add single-channel Gaussian noise, scaled by a learned strength per channel.

    In training the noise is drawn fresh for every sample and call from the
    layer's seed generator. In inference (`training=False`) the layer adds a
    fixed noise map, drawn once at build time from `noise_seed` and saved
    with the weights, so that exported generators are deterministic. Every
    sample then shares that one noise map (the "const" noise mode of the
    StyleGAN2 code).

    Args:
        seed: seed of the training noise; None draws one.
        noise_seed: seed of the fixed inference noise map.
    """

    def __init__(self, seed=None, noise_seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.noise_seed = int(noise_seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        height, width, channels = input_shape[1:]
        self.strength = self.add_weight(shape=(channels,), initializer="zeros", name="strength")
        self.fixed_noise = self.add_weight(
            shape=(height, width, 1),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.noise_seed),
            trainable=False,
            name="fixed_noise",
        )

    def call(self, inputs, training=False):
        if training:
            shape = ops.shape(inputs)
            noise = keras.random.normal((shape[0], shape[1], shape[2], 1), seed=self.seed_generator)
        else:
            noise = self.fixed_noise[None]
        # The noise and strength are float32 variables or draws; under a
        # float16 policy TensorFlow refuses to add them to float16 inputs.
        return inputs + ops.cast(noise * self.strength, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed, noise_seed=self.noise_seed)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ConstantInput(keras.layers.Layer):
    """The learned constant that starts the synthesis network, repeated per sample.

    Call it on w (N, w_dim), which only sets the batch size.
    Returns (N, size, size, channels).

    Args:
        channels: channels of the constant.
        size: its height and width.
    """

    def __init__(self, channels, size=4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape):
        self.constant = self.add_weight(
            shape=(self.size, self.size, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="constant",
        )

    def call(self, inputs):
        batch_size = ops.shape(inputs)[0]
        return ops.broadcast_to(self.constant[None], (batch_size, self.size, self.size, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, size=self.size)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class SelectStyle(keras.layers.Layer):
    """Pick the w of one synthesis layer: (N, num_ws, w_dim) -> (N, w_dim).

    Args:
        index: the layer index into axis 1.
    """

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, inputs):
        return inputs[:, self.index, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(index=self.index)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class BroadcastStyle(keras.layers.Layer):
    """Use one w for every synthesis layer: (N, w_dim) -> (N, num_ws, w_dim).

    Args:
        num_ws: the number of synthesis layers that take a style.
    """

    def __init__(self, num_ws, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = int(num_ws)

    def call(self, inputs):
        return ops.repeat(inputs[:, None, :], self.num_ws, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_ws, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(num_ws=self.num_ws)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class Truncation(keras.layers.Layer):
    """Hold the running mean w_avg of w and apply the truncation trick.

    `call([w, psi])` returns w_avg + psi * (w - w_avg): psi = 1 keeps w,
    psi = 0 returns w_avg, values in between trade variety for typical
    images (Karras et al. 2019). w_avg is a non-trainable weight that the
    training model moves with `track`.

    Args:
        w_dim: the size of w.
    """

    def __init__(self, w_dim, **kwargs):
        super().__init__(**kwargs)
        self.w_dim = int(w_dim)

    def build(self, input_shape=None):
        self.w_avg = self.add_weight(shape=(self.w_dim,), initializer="zeros", trainable=False, name="w_avg")

    def call(self, inputs):
        w, psi = inputs

        # w_avg stays a float32 variable under a 16-bit policy, where w and
        # psi arrive in the compute dtype.
        w_avg = ops.cast(self.w_avg, w.dtype)
        return w_avg + ops.cast(psi, w.dtype) * (w - w_avg)

    def track(self, w, beta):
        """Move w_avg towards the batch mean of w (N, w_dim): w_avg = mean + beta * (w_avg - mean)."""
        batch_mean = ops.mean(ops.cast(ops.stop_gradient(ops.convert_to_tensor(w)), "float32"), axis=0)
        self.w_avg.assign(batch_mean + beta * (self.w_avg - batch_mean))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(w_dim=self.w_dim)
        return config


@keras.saving.register_keras_serializable(package="zoo")
class MinibatchStddev(keras.layers.Layer):
    """Append the mean standard deviation over sample groups as one channel.

    The batch is split into groups of `group_size` samples (samples i,
    i + N/G, i + 2N/G, ... form a group, as in the StyleGAN code). For each
    group the standard deviation of every feature over its samples is
    averaged into one number, which fills an extra channel of each sample in
    the group. It lets the discriminator see the variety of a batch, which
    discourages mode collapse (Karras et al. 2018).

    Args:
        group_size: the samples per group. A batch smaller than this is
            one group; otherwise the batch size must be divisible by it.
    """

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        if int(group_size) < 1:
            raise InvalidConfigError(f"group_size must be >= 1. Received: group_size={group_size!r}")
        self.group_size = int(group_size)

    def call(self, inputs):
        shape = ops.shape(inputs)
        batch_size, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        if isinstance(batch_size, int):
            group_size = min(self.group_size, batch_size)
            if batch_size % group_size:
                raise InvalidInputError(
                    f"MinibatchStddev needs a batch size divisible by its group size "
                    f"{group_size}. Received a batch of {batch_size}. Use a batch size "
                    "that is a multiple of the group size."
                )
        else:
            group_size = ops.minimum(self.group_size, batch_size)

        groups = ops.reshape(inputs, (group_size, -1, height, width, channels))
        variance = ops.var(groups, axis=0)
        stddev = ops.mean(ops.sqrt(variance + EPSILON), axis=(1, 2, 3))
        feature = ops.tile(stddev[:, None, None, None], (group_size, height, width, 1))
        return ops.concatenate([inputs, ops.cast(feature, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        config = super().get_config()
        config.update(group_size=self.group_size)
        return config
