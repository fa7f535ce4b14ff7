"""The mapping, synthesis and discriminator networks of the style-based GAN, as functional models.

The synthesis network follows StyleGAN2 (Karras et al. 2020): a learned 4x4
constant, two modulated 3x3 convolutions per resolution with noise and
LeakyReLU, and "skip" toRGB outputs that are upsampled and summed. Style
index i feeds synthesis layer i in this order: the 4x4 convolution (0), then
per resolution r = 8, 16, ... its two convolutions, and each toRGB layer
shares the index of the next convolution, so an image of size 2^k takes
num_ws = 2k - 2 styles. The discriminator is the residual network of
StyleGAN2 with a minibatch-stddev channel at 4x4.
"""

import math

import keras

from zoo.errors import InvalidConfigError
from zoo.stylegan import layers

START_SIZE = 4
INTERPOLATIONS = ("nearest", "bilinear")


def check_image_shape(image_shape):
    """Reject image shapes the networks cannot make: square, a power of 2, at least 8."""
    height, width = image_shape[:2]
    if height != width or height < 2 * START_SIZE or height & (height - 1):
        raise InvalidConfigError(
            "The style-based generator makes square images whose side is a power of 2, "
            f"at least {2 * START_SIZE}. Received: image_shape={tuple(image_shape)}. "
            "Pad or resize the images, for example Fashion-MNIST to 32x32."
        )


def resolutions(image_size):
    """Return the resolutions of the synthesis blocks: 4, 8, ..., image_size."""
    return [START_SIZE * 2**level for level in range(int(math.log2(image_size // START_SIZE)) + 1)]


def num_styles(image_size):
    """Return num_ws, the number of styles the synthesis network takes: 2 log2(size) - 2."""
    return 2 * int(math.log2(image_size)) - 2


def channels_at(resolution, image_size, filters, max_filters):
    """Return the channels at a resolution: `filters` at full size, doubled per halving, at most `max_filters`."""
    return min(filters * (image_size // resolution), max_filters)


def mapping_network(latent_dim, w_dim, num_layers=4, lr_multiplier=0.01, name="mapping"):
    """Build the mapping network f: z -> w.

    Args:
        latent_dim: the size of z ~ N(0, I).
        w_dim: the size of w.
        num_layers: dense layers with LeakyReLU (8 in StyleGAN).
        lr_multiplier: learning-rate multiplier of every layer; StyleGAN
            trains the mapping network 100 times slower than the rest.
        name: the name of the model.

    Returns:
        A functional model `z (N, latent_dim) -> w (N, w_dim)`.
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.PixelNorm(name="pixel_norm")(z)
    for index in range(num_layers):
        x = layers.EqualizedDense(
            w_dim, activation="leaky_relu", lr_multiplier=lr_multiplier, name=f"dense_{index}"
        )(x)
    return keras.Model(z, x, name=name)


def synthesis_network(
    image_shape, w_dim, filters=16, max_filters=128, interpolation="bilinear", seed=None, name="synthesis"
):
    """Build the synthesis network g: ws -> images.

    Args:
        image_shape: `(size, size, channels)`, size a power of 2 >= 8.
        w_dim: the size of each w.
        filters: channels at full resolution, doubled per halving.
        max_filters: the maximum number of channels of any layer.
        interpolation: `"nearest"` or `"bilinear"` 2x upsampling.
        seed: base seed of the noise layers' training noise; None draws one.
        name: the name of the model.

    Returns:
        A functional model `ws (N, num_ws, w_dim) -> images (N, size, size,
        channels)`, with values near [-1, 1] (the output is linear, not tanh).
    """
    check_image_shape(image_shape)
    if interpolation not in INTERPOLATIONS:
        raise InvalidConfigError(
            f"interpolation must be one of {INTERPOLATIONS}. Received: {interpolation!r}"
        )
    size, channels = image_shape[0], image_shape[-1]

    ws = keras.Input(shape=(num_styles(size), w_dim), name="ws")
    style_layers = {}

    def style(index):
        if index not in style_layers:
            style_layers[index] = layers.SelectStyle(index, name=f"w_{index}")(ws)
        return style_layers[index]

    noise_layers = 0

    def styled_conv(x, index, resolution, name):
        nonlocal noise_layers
        width = channels_at(resolution, size, filters, max_filters)
        x = layers.ModulatedConv2D(width, 3, name=f"{name}_conv")([x, style(index)])
        noise_seed = None if seed is None else seed + noise_layers
        x = layers.NoiseInjection(seed=noise_seed, noise_seed=noise_layers, name=f"{name}_noise")(x)
        noise_layers += 1
        return keras.layers.LeakyReLU(layers.LEAKY_SLOPE, name=f"{name}_leaky_relu")(x)

    def to_rgb(x, index, name):
        return layers.ModulatedConv2D(channels, 1, demodulate=False, name=name)([x, style(index)])

    # The 4x4 block: the constant, one convolution, the first toRGB.
    x = layers.ConstantInput(channels_at(START_SIZE, size, filters, max_filters), START_SIZE, name="constant")(
        style(0)
    )
    x = styled_conv(x, 0, START_SIZE, "b4")
    rgb = to_rgb(x, 1, "b4_to_rgb")

    index = 1
    for resolution in resolutions(size)[1:]:
        block = f"b{resolution}"
        x = keras.layers.UpSampling2D(2, interpolation=interpolation, name=f"{block}_upsample")(x)
        x = styled_conv(x, index, resolution, f"{block}_0")
        x = styled_conv(x, index + 1, resolution, f"{block}_1")
        index += 2
        skip = keras.layers.UpSampling2D(2, interpolation=interpolation, name=f"{block}_rgb_upsample")(rgb)
        rgb = keras.layers.Add(name=f"{block}_rgb")([skip, to_rgb(x, index, f"{block}_to_rgb")])

    images = keras.layers.Identity(name="images")(rgb)
    return keras.Model(ws, images, name=name)


def discriminator_network(image_shape, filters=16, max_filters=128, group_size=4):
    """Build the residual discriminator of StyleGAN2.

    fromRGB (1x1), then per resolution two 3x3 convolutions and a 2x2
    average pooling, beside a pooled 1x1 shortcut, summed and divided by
    sqrt(2). At 4x4: minibatch stddev, a 3x3 convolution, a dense layer and
    the logit.

    Args:
        image_shape: `(size, size, channels)` of images in [-1, 1].
        filters: channels at full resolution, doubled per halving.
        max_filters: the maximum number of channels of any layer.
        group_size: the minibatch-stddev group size.

    Returns:
        A functional model `images -> logits (N, 1)`.
    """
    check_image_shape(image_shape)
    size = image_shape[0]

    images = keras.Input(shape=tuple(image_shape), name="images")
    x = layers.EqualizedConv2D(
        channels_at(size, size, filters, max_filters), 1, activation="leaky_relu", name="from_rgb"
    )(images)

    for resolution in reversed(resolutions(size)[1:]):
        name = f"b{resolution}"
        in_channels = channels_at(resolution, size, filters, max_filters)
        out_channels = channels_at(resolution // 2, size, filters, max_filters)
        shortcut = keras.layers.AveragePooling2D(2, name=f"{name}_skip_pool")(x)
        shortcut = layers.EqualizedConv2D(out_channels, 1, use_bias=False, name=f"{name}_skip")(shortcut)
        x = layers.EqualizedConv2D(in_channels, 3, activation="leaky_relu", name=f"{name}_conv_0")(x)
        x = layers.EqualizedConv2D(out_channels, 3, activation="leaky_relu", name=f"{name}_conv_1")(x)
        x = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)
        x = keras.layers.Add(name=f"{name}_sum")([x, shortcut])
        x = keras.layers.Rescaling(1.0 / math.sqrt(2.0), name=f"{name}_scale")(x)

    width = channels_at(START_SIZE, size, filters, max_filters)
    x = layers.MinibatchStddev(group_size, name="minibatch_stddev")(x)
    x = layers.EqualizedConv2D(width, 3, activation="leaky_relu", name="b4_conv")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = layers.EqualizedDense(width, activation="leaky_relu", name="b4_dense")(x)
    logits = layers.EqualizedDense(1, name="logits")(x)
    return keras.Model(images, logits, name="discriminator")
