"""Generator and discriminator networks of the GAN family, as functional models.

Every generator here ends in tanh, so it works in [-1, 1]; the training
models rescale real images to [-1, 1] and the exportable parts rescale the
output back to [0, 1]. Discriminators return logits, never probabilities.
"""

import math

import keras

from zoo.errors import InvalidConfigError

# Slope of LeakyReLU in every discriminator, as in Radford et al. (2016).
LEAKY_SLOPE = 0.2
# Weight initialisation N(0, 0.02) of DCGAN and pix2pix.
INIT_STDDEV = 0.02


def _init():
    return keras.initializers.RandomNormal(stddev=INIT_STDDEV)


def mlp_generator(latent_dim, image_shape, hidden_units=(256, 512)):
    """Build the fully connected generator of Goodfellow et al. (2014).

    Args:
        latent_dim: length of the noise vector z.
        image_shape: `(height, width, channels)` of the generated images.
        hidden_units: widths of the ReLU hidden layers.

    Returns:
        A functional model `z (N, latent_dim) -> images (N, H, W, C)` in [-1, 1].
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(x)
    x = keras.layers.Dense(math.prod(image_shape), activation="tanh", name="pixels")(x)
    images = keras.layers.Reshape(tuple(image_shape), name="images")(x)
    return keras.Model(z, images, name="generator")


def mlp_discriminator(image_shape, hidden_units=(512, 256), dropout=0.3):
    """Build a fully connected discriminator with LeakyReLU and dropout.

    Args:
        image_shape: `(height, width, channels)` of the images, in [-1, 1].
        hidden_units: widths of the hidden layers.
        dropout: dropout rate after each hidden layer, which Goodfellow et
            al. (2014) also apply to their discriminator.

    Returns:
        A functional model `images -> logits (N, 1)`.
    """
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, name=f"dense_{index}")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"leaky_relu_{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    logits = keras.layers.Dense(1, name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


def _check_divisible(image_shape, factor, model_name):
    height, width = image_shape[:2]
    if height % factor or width % factor:
        raise InvalidConfigError(
            f"{model_name} needs an image height and width divisible by "
            f"{factor}. Received: image_shape={tuple(image_shape)}. Pad or "
            "resize the images."
        )


def dcgan_generator(latent_dim, image_shape, filters=64):
    """Build the DCGAN generator of Radford et al. (2016).

    A dense projection to a (H/4, W/4, 4 * filters) tensor, then two
    stride-2 transposed convolutions (2 * filters channels, then the image
    channels). BatchNorm and ReLU follow every layer except the last, which
    is tanh. The widths mirror the discriminator's, as in the paper.

    Args:
        latent_dim: length of the noise vector z.
        image_shape: `(height, width, channels)`, height and width divisible by 4.
        filters: the width unit, equal to the discriminator's `filters`.

    Returns:
        A functional model `z (N, latent_dim) -> images (N, H, W, C)` in [-1, 1].
    """
    _check_divisible(image_shape, 4, "The DCGAN generator")
    height, width, channels = image_shape

    z = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(
        (height // 4) * (width // 4) * filters * 4,
        use_bias=False,
        kernel_initializer=_init(),
        name="projection",
    )(z)
    x = keras.layers.BatchNormalization(name="projection_norm")(x)
    x = keras.layers.ReLU(name="projection_relu")(x)
    x = keras.layers.Reshape((height // 4, width // 4, filters * 4), name="reshape")(x)

    x = keras.layers.Conv2DTranspose(
        filters * 2, 4, strides=2, padding="same", use_bias=False,
        kernel_initializer=_init(), name="up_1",
    )(x)
    x = keras.layers.BatchNormalization(name="up_1_norm")(x)
    x = keras.layers.ReLU(name="up_1_relu")(x)

    images = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", activation="tanh",
        kernel_initializer=_init(), name="images",
    )(x)
    return keras.Model(z, images, name="generator")


def dcgan_discriminator(image_shape, filters=64):
    """Build the DCGAN discriminator: strided convolutions with LeakyReLU.

    Two stride-2 convolutions (BatchNorm on the second only, as in Radford
    et al. 2016, who leave it out of the discriminator's input layer), then
    one dense logit.

    Args:
        image_shape: `(height, width, channels)` of the images, in [-1, 1].
        filters: channels of the first convolution.

    Returns:
        A functional model `images -> logits (N, 1)`.
    """
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = keras.layers.Conv2D(
        filters, 4, strides=2, padding="same", kernel_initializer=_init(), name="down_1"
    )(images)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="down_1_leaky_relu")(x)

    x = keras.layers.Conv2D(
        filters * 2, 4, strides=2, padding="same", use_bias=False,
        kernel_initializer=_init(), name="down_2",
    )(x)
    x = keras.layers.BatchNormalization(name="down_2_norm")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="down_2_leaky_relu")(x)

    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(1, kernel_initializer=_init(), name="logits")(x)
    return keras.Model(images, logits, name="discriminator")


def unet_depth(image_shape, max_depth=5):
    """Return how many stride-2 levels a U-Net can have on this image size.

    Each level halves the height and width exactly, so the depth is the
    number of factors 2 that divide both, at most `max_depth`.
    """
    height, width = image_shape[:2]
    depth = 0
    while depth < max_depth and height % 2 == 0 and width % 2 == 0 and min(height, width) > 1:
        height, width = height // 2, width // 2
        depth += 1
    return depth


def unet_generator(image_shape, output_channels=None, filters=32, max_depth=5, dropout=0.5):
    """Build the pix2pix U-Net generator of Isola et al. (2017).

    The encoder halves the size `depth = unet_depth(image_shape, max_depth)`
    times with stride-2 convolutions, BatchNorm (except on the first) and
    LeakyReLU. The decoder doubles it back with transposed convolutions,
    BatchNorm and ReLU, and concatenates the encoder output of the same
    size (the skip connections). Dropout on the three innermost decoder levels is
    the generator's only noise source, as in the paper.

    Args:
        image_shape: `(height, width, channels)` of the input, in [-1, 1].
        output_channels: channels of the output; default the input channels.
        filters: channels of the first encoder level; each level doubles
            them up to 8 * filters.
        max_depth: the maximum number of stride-2 levels.
        dropout: the dropout rate of the innermost decoder levels.

    Returns:
        A functional model `images (N, H, W, C) -> translated (N, H, W, C_out)`
        in [-1, 1].

    Raises:
        InvalidConfigError: when the size is not divisible by 2.
    """
    depth = unet_depth(image_shape, max_depth)
    if depth < 1:
        _check_divisible(image_shape, 2, "The U-Net generator")
    output_channels = output_channels or image_shape[-1]

    inputs = keras.Input(shape=tuple(image_shape), name="images")
    x = inputs
    skips = []
    for level in range(depth):
        x = keras.layers.Conv2D(
            filters * min(2**level, 8), 4, strides=2, padding="same", use_bias=False,
            kernel_initializer=_init(), name=f"down_{level}",
        )(x)
        if level > 0:
            x = keras.layers.BatchNormalization(name=f"down_{level}_norm")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"down_{level}_leaky_relu")(x)
        skips.append(x)

    # The innermost encoder output is the bottleneck: it has no skip partner.
    skips = skips[:-1]
    for index, level in enumerate(reversed(range(depth - 1))):
        x = keras.layers.Conv2DTranspose(
            filters * min(2**level, 8), 4, strides=2, padding="same", use_bias=False,
            kernel_initializer=_init(), name=f"up_{level}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"up_{level}_norm")(x)
        if index < 3:
            x = keras.layers.Dropout(dropout, name=f"up_{level}_dropout")(x)
        x = keras.layers.ReLU(name=f"up_{level}_relu")(x)
        x = keras.layers.Concatenate(name=f"skip_{level}")([x, skips[level]])

    translated = keras.layers.Conv2DTranspose(
        output_channels, 4, strides=2, padding="same", activation="tanh",
        kernel_initializer=_init(), name="translated",
    )(x)
    return keras.Model(inputs, translated, name="generator")


def patchgan_depth(image_shape, max_depth=3, min_patches=4):
    """Return the stride-2 layers of a PatchGAN on this image size.

    The 70x70 PatchGAN of pix2pix uses 3 on 256x256 images. Smaller images
    get fewer, so that the logit map keeps at least `min_patches` rows and
    columns.
    """
    smallest = min(image_shape[:2])
    depth = 0
    while depth < max_depth and smallest // 2 >= min_patches:
        smallest //= 2
        depth += 1
    return max(depth, 1)


def patchgan_discriminator(input_shape, target_shape, filters=32, max_depth=3):
    """Build the conditional PatchGAN discriminator of pix2pix.

    It receives the input image and a real or generated target stacked
    along the channels, and returns one logit per overlapping patch.

    Args:
        input_shape: `(height, width, channels)` of the condition image.
        target_shape: `(height, width, channels)` of the target image.
        filters: channels of the first convolution, doubled per level.
        max_depth: the maximum number of stride-2 convolutions; see `patchgan_depth`.

    Returns:
        A functional model `[images, targets] -> logits (N, h, w, 1)`.
    """
    depth = patchgan_depth(input_shape, max_depth)
    images = keras.Input(shape=tuple(input_shape), name="images")
    targets = keras.Input(shape=tuple(target_shape), name="targets")
    x = keras.layers.Concatenate(name="pair")([images, targets])

    for level in range(depth):
        x = keras.layers.Conv2D(
            filters * min(2**level, 8), 4, strides=2, padding="same", use_bias=level == 0,
            kernel_initializer=_init(), name=f"down_{level}",
        )(x)
        if level > 0:
            x = keras.layers.BatchNormalization(name=f"down_{level}_norm")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"down_{level}_leaky_relu")(x)

    x = keras.layers.Conv2D(
        filters * min(2**depth, 8), 4, padding="same", use_bias=False,
        kernel_initializer=_init(), name="patch",
    )(x)
    x = keras.layers.BatchNormalization(name="patch_norm")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="patch_leaky_relu")(x)
    logits = keras.layers.Conv2D(
        1, 4, padding="same", kernel_initializer=_init(), name="logits"
    )(x)
    return keras.Model([images, targets], logits, name="discriminator")
