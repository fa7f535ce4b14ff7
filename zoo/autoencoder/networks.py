"""Convolutional encoder and decoder networks shared by the AE and the VAE.

The encoder halves the image size with each stride-2 convolution, so the
image height and width must be divisible by `2 ** len(filters)`. The decoder
mirrors it with stride-2 transposed convolutions.
"""

import keras

from zoo.errors import InvalidConfigError


def check_architecture(input_shape, latent_dim, filters, hidden_units):
    """Validate the shared architecture arguments; return them normalised.

    Returns:
        `(input_shape, latent_dim, filters, hidden_units)` as a tuple of
        ints, an int, a tuple of ints and an int.

    Raises:
        InvalidConfigError: on a wrong rank, a non-positive size, or an image
            size that the stride-2 stages cannot halve evenly.
    """
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise InvalidConfigError(
            "input_shape must be (height, width, channels) with positive sizes. "
            f"Received: {input_shape}"
        )
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise InvalidConfigError(f"latent_dim must be an integer >= 1. Received: {latent_dim!r}")
    filters = tuple(int(count) for count in filters)
    if not filters or min(filters) < 1:
        raise InvalidConfigError(
            f"filters must be a non-empty list of positive channel counts. Received: {filters}"
        )
    if not isinstance(hidden_units, int) or hidden_units < 0:
        raise InvalidConfigError(
            f"hidden_units must be an integer >= 0 (0 for no hidden layer). Received: {hidden_units!r}"
        )

    factor = 2 ** len(filters)
    height, width, _ = input_shape
    if height % factor or width % factor:
        raise InvalidConfigError(
            f"With {len(filters)} stride-2 stages the image height and width must be "
            f"divisible by {factor}. Received: input_shape={input_shape}. Use fewer "
            "filters entries or resize the images."
        )
    return input_shape, latent_dim, filters, hidden_units


def build_encoder(input_shape, latent_dim, filters, hidden_units, outputs=("z",), name="encoder"):
    """Build the convolutional encoder as a functional model.

    Args:
        input_shape: `(height, width, channels)` of the images.
        latent_dim: the size of each output vector.
        filters: channel counts of the stride-2 convolutions, in order.
        hidden_units: width of the dense layer before the outputs, 0 for none.
        outputs: the names of the linear output heads, `("z",)` for an
            autoencoder and `("z_mean", "z_log_var")` for a VAE.
        name: the model name.

    Returns:
        A `keras.Model` from `images` (float32, NHWC, [0, 1]) to one
        tensor of shape (batch, latent_dim) per output name.
    """
    images = keras.Input(shape=input_shape, name="images")
    x = images
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            count, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv_{index}"
        )(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    if hidden_units:
        x = keras.layers.Dense(hidden_units, activation="relu", name=f"{name}_hidden")(x)
    heads = [keras.layers.Dense(latent_dim, name=head)(x) for head in outputs]
    return keras.Model(images, heads if len(heads) > 1 else heads[0], name=name)


def build_decoder(output_shape, latent_dim, filters, hidden_units, output="images", name="decoder"):
    """Build the convolutional decoder, the mirror of `build_encoder`.

    Args:
        output_shape: `(height, width, channels)` of the images it makes.
        latent_dim: the size of the input `z`.
        filters: the encoder's channel counts; the decoder uses them reversed.
        hidden_units: width of the first dense layer, 0 for none.
        output: `"images"` ends in a sigmoid, values in [0, 1]; `"logits"`
            returns the pre-sigmoid Bernoulli logits.
        name: the model name.

    Returns:
        A `keras.Model` from `z` of shape (batch, latent_dim) to a tensor of
        shape (batch, height, width, channels) named `output`.
    """
    if output not in ("images", "logits"):
        raise InvalidConfigError(f"output must be 'images' or 'logits'. Received: {output!r}")
    height, width, channels = output_shape
    factor = 2 ** len(filters)
    start_shape = (height // factor, width // factor, filters[-1])

    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    if hidden_units:
        x = keras.layers.Dense(hidden_units, activation="relu", name=f"{name}_hidden")(x)
    x = keras.layers.Dense(
        start_shape[0] * start_shape[1] * start_shape[2], activation="relu", name=f"{name}_project"
    )(x)
    x = keras.layers.Reshape(start_shape, name=f"{name}_reshape")(x)
    for index, count in enumerate(reversed(filters), start=1):
        x = keras.layers.Conv2DTranspose(
            count, 3, strides=2, padding="same", activation="relu", name=f"{name}_deconv_{index}"
        )(x)
    activation = "sigmoid" if output == "images" else None
    x = keras.layers.Conv2D(channels, 3, padding="same", activation=activation, name=output)(x)
    return keras.Model(z, x, name=name)
