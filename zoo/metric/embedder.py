"""The embedder: a small convolutional network mapping images to unit vectors.

Decision on image size: the embedder takes images at their native size
(112 x 92 for ORL) and, when `working_size` differs, resizes them inside
the model with a bilinear `Resizing` layer. The exported model therefore
takes the data set's own images, and serving needs no resizing rule of its
own. Halving 112 x 92 to 56 x 46 with bilinear resizing and half-pixel
centres averages each 2 x 2 block, so nothing is lost to aliasing.
"""

import keras
from keras import ops

from zoo.errors import InvalidConfigError

# Keeps the norm of a zero vector away from 0, so that the division and
# its gradient stay finite.
NORM_EPSILON = 1e-12

# Lower than Keras's 0.99 because recipes train for a few hundred steps
# only: with 0.99 the moving statistics would still remember their
# initial values, and inference would not match training.
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="zoo")
class L2Normalization(keras.layers.Layer):
    """Scale each row to unit L2 norm, computed in float32.

    A zero row stays zero and its gradient is finite because the squared
    norm is clipped at `epsilon` before the square root.

    Args:
        epsilon: the lower bound of the squared norm.
    """

    def __init__(self, epsilon=NORM_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        squared_norm = ops.sum(ops.square(inputs), axis=-1, keepdims=True)
        return inputs * ops.rsqrt(ops.maximum(squared_norm, self.epsilon))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


def build_embedder(
    input_shape=(56, 46, 1),
    embedding_dim=128,
    widths=(32, 64, 128, 256),
    working_size=None,
    dropout=0.0,
    pooling="average",
    name="embedder",
):
    """Build the embedder, a functional model `images` -> `embeddings`.

    Each width adds a block of two 3 x 3 conv-BatchNorm-ReLU layers and a
    2 x 2 max pooling, except the last block, which is followed by global
    average pooling. A dense projection and L2 normalisation follow.

    Args:
        input_shape: `(height, width, channels)` of the input images,
            float32 in [0, 1].
        embedding_dim: length of the embedding, >= 2.
        widths: the number of filters of each block, a non-empty sequence
            of positive integers.
        working_size: `(height, width)` the images are resized to inside
            the model, or None to keep `input_shape`.
        dropout: dropout rate before the projection, in [0, 1).
        name: the model name.

    Returns:
        A `keras.Model` with input layer `images` of shape
        (batch, *input_shape) and output `embeddings` of shape
        (batch, embedding_dim), float32 with unit L2 norm.

    Raises:
        InvalidConfigError: for an invalid argument.
    """
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise InvalidConfigError(
            "build_embedder expects input_shape=(height, width, channels) with "
            f"positive sizes. Received: input_shape={input_shape}"
        )
    if not isinstance(embedding_dim, int) or embedding_dim < 2:
        raise InvalidConfigError(
            f"build_embedder expects an integer embedding_dim >= 2. Received: {embedding_dim!r}"
        )
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise InvalidConfigError(
            f"build_embedder expects widths to be positive integers. Received: {widths!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise InvalidConfigError(f"build_embedder expects dropout in [0, 1). Received: {dropout!r}")

    images = keras.Input(shape=input_shape, name="images")
    x = images
    if working_size is not None and tuple(working_size) != input_shape[:2]:
        x = _resize(x, input_shape[:2], tuple(int(size) for size in working_size))

    for block, filters in enumerate(widths, start=1):
        for layer in (1, 2):
            prefix = f"block{block}_conv{layer}"
            x = keras.layers.Conv2D(
                filters, 3, padding="same", use_bias=False, name=prefix
            )(x)
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_bn")(x)
            x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
        if block < len(widths):
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)

    if pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(embedding_dim, name="projection")(x)
    embeddings = L2Normalization(name="embeddings")(x)
    return keras.Model(images, embeddings, name=name)


def _resize(x, input_size, working_size):
    """Shrink images to `working_size` inside the model.

    An integer factor is an average pooling, which is the exact area
    resampling and exports to ONNX as one AveragePool; any other size is a
    bilinear `Resizing`.
    """
    factors = {input_size[0] / working_size[0], input_size[1] / working_size[1]}
    if len(factors) == 1:
        factor = factors.pop()
        if factor == int(factor) and factor > 1:
            return keras.layers.AveragePooling2D(int(factor), name="resize")(x)
    height, width = working_size
    return keras.layers.Resizing(height, width, interpolation="bilinear", name="resize")(x)
