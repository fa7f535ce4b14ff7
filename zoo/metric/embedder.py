"""The embedder: a small convolutional network mapping images to unit vectors.

Decision on image size: the embedder takes images at their native size
(112 x 92 for ORL) and, when `working_size` differs, resizes them inside
the model with a bilinear `Resizing` layer. The exported model therefore
takes the data set's own images, and serving needs no resizing rule of its
own. Halving 112 x 92 to 56 x 46 with bilinear resizing and half-pixel
centres averages each 2 x 2 block, so nothing is lost to aliasing.
"""

import numbers

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


@keras.saving.register_keras_serializable(package="zoo")
class ImageStandardization(keras.layers.Layer):
    """Subtract each image's mean and divide by its standard deviation.

    Removes the global brightness and contrast of a photo, which differ
    between sessions of the same person, before the first convolution.

    Args:
        epsilon: added to the variance, so that a flat image gives zeros.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        mean = ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        variance = ops.mean(ops.square(inputs - mean), axis=(1, 2, 3), keepdims=True)
        return (inputs - mean) * ops.rsqrt(variance + self.epsilon)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


@keras.saving.register_keras_serializable(package="zoo")
class MirrorAverage(keras.layers.Layer):
    """Embed an image and its horizontal mirror, and average the two.

    At inference (`training` False or None) the output is the unit-norm
    mean of `network(images)` and `network(mirrored images)`, so the
    embedding does not depend on which way a face is turned, and the
    exported model does the averaging itself. In training it returns
    `network(images)` only: the mirror is then one of the augmentations,
    and a step costs one pass, not two.

    Args:
        network: a model `images` (B, H, W, C) -> unit vectors (B, D).
    """

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.normalize = L2Normalization(name="mirror_normalization")

    def build(self, input_shape):
        self.built = True

    def call(self, images, training=None):
        embeddings = self.network(images, training=training)
        if training:
            return embeddings
        mirrored = self.network(ops.flip(images, axis=2), training=training)
        return self.normalize(embeddings + mirrored)

    def compute_output_spec(self, images, training=None):
        return keras.KerasTensor((images.shape[0], self.network.output_shape[-1]), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config["network"] = keras.saving.serialize_keras_object(self.network)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(
            config["network"], custom_objects=custom_objects
        )
        return cls(**config)


def build_embedder(
    input_shape=(56, 46, 1),
    embedding_dim=128,
    widths=(32, 64, 128, 256),
    working_size=None,
    dropout=0.0,
    pooling="average",
    name="embedder",
    convs_per_block=2,
    standardize=False,
    mirror_average=False,
):
    """Build the embedder, a functional model `images` -> `embeddings`.

    Each width adds a block of `convs_per_block` 3 x 3 conv-BatchNorm-ReLU
    layers and a 2 x 2 max pooling, except the last block, which is
    followed by global average pooling. A dense projection and L2
    normalisation follow.

    Args:
        input_shape: `(height, width, channels)` of the input images,
            float32 in [0, 1].
        embedding_dim: length of the embedding, >= 2.
        widths: the number of filters of each block, a non-empty sequence
            of positive integers.
        working_size: `(height, width)` the images are resized to inside
            the model, or None to keep `input_shape`.
        dropout: dropout rate before the projection, in [0, 1).
        pooling: "average" (global average pooling) or "flatten".
        name: the model name.
        convs_per_block: the number of conv layers in each block, >= 1.
        standardize: subtract each image's mean and divide by its standard
            deviation first (`ImageStandardization`).
        mirror_average: at inference, average the embeddings of the image
            and of its horizontal mirror (`MirrorAverage`). The layers
            then sit in a sub-model named `<name>_network`.

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
    if not isinstance(convs_per_block, int) or convs_per_block < 1:
        raise InvalidConfigError(
            f"build_embedder expects an integer convs_per_block >= 1. Received: {convs_per_block!r}"
        )

    images = keras.Input(shape=input_shape, name="images")
    x = images
    if working_size is not None and tuple(working_size) != input_shape[:2]:
        x = _resize(x, input_shape[:2], tuple(int(size) for size in working_size))
    if standardize:
        x = ImageStandardization(name="standardize")(x)

    for block, filters in enumerate(widths, start=1):
        for layer in range(1, convs_per_block + 1):
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
    return build_embedding_model(images, x, name, mirror_average)


def build_face_resnet_embedder(
    input_shape=(112, 92, 1),
    crop=(24, 0, 92),
    weights=None,
    trainable=("descriptors",),
    mirror_average=True,
    name="embedder",
):
    """Build an embedder on dlib's face ResNet (see `zoo.metric.face_resnet`).

    dlib's network reads 150 x 150 RGB chips of faces aligned on five
    landmarks. An exported embedder has no landmark detector, so every
    image is cut with one fixed square, the `crop`, and resized to 150 x
    150. For photos framed alike, such as the ORL faces, one square fitted
    on the training photos comes close to dlib's own alignment. Grey
    images are repeated to three channels.

    Args:
        input_shape: `(height, width, channels)` of the input images,
            float32 in [0, 1], with 1 or 3 channels.
        crop: `(top, left, side)` of the square in input pixels. Its part
            outside the image is black, as in dlib's chip extraction.
        weights: None for random weights, the path of
            `dlib_face_recognition_resnet_model_v1.dat`, or the layers that
            `read_dlib_face_resnet` returns.
        trainable: the names of the network's layers that training may
            change; the others keep dlib's weights. The default trains the
            last dense layer only.
        mirror_average: average the embeddings of each image and of its
            mirror at inference (`MirrorAverage`).
        name: the model name.

    Returns:
        A `keras.Model` with input `images` and output `embeddings`, (B, 128)
        with unit L2 norm.

    Raises:
        InvalidConfigError: for a crop that is not three integers or misses
            the image, a channel count other than 1 or 3, or a `trainable`
            that is empty or names a layer without weights.
    """
    from zoo.metric.face_resnet import IMAGE_SIZE, build_face_resnet

    height, width, channels = (int(size) for size in input_shape)
    if channels not in (1, 3):
        raise InvalidConfigError(
            f"The face ResNet embedder expects grey or RGB images (1 or 3 channels). Received: input_shape={input_shape}"
        )
    is_square = isinstance(crop, (list, tuple)) and len(crop) == 3
    if not (is_square and all(isinstance(value, numbers.Integral) and not isinstance(value, bool) for value in crop)):
        raise InvalidConfigError(
            f"crop must be three integers (top, left, side). Received: crop={crop!r}. "
            f"For {height} x {width} ORL photos, use [24, 0, 92]."
        )
    top, left, side = (int(value) for value in crop)
    if side < 1 or top >= height or left >= width or top + side <= 0 or left + side <= 0:
        raise InvalidConfigError(
            f"crop (top, left, side) must be a square of side >= 1 that overlaps the {height} x {width} images; "
            f"its part outside them is black. Received: crop={list(crop)}. For ORL photos, use [24, 0, 92]."
        )

    network = build_face_resnet(weights)
    # Only layers with weights can train; naming another one would train nothing.
    names = [layer.name for layer in network.layers if layer.weights]
    unknown = sorted(set(trainable) - set(names))
    if unknown or not trainable:
        raise InvalidConfigError(
            f"trainable_layers must name layers of the face ResNet that have weights. Received: {list(trainable)}. "
            f"Use ['descriptors'] to train the last dense layer only, or choose among {names}."
        )
    for layer in network.layers:
        layer.trainable = layer.name in trainable

    images = keras.Input(shape=(height, width, channels), name="images")
    x = images
    padding = ((max(0, -top), max(0, top + side - height)), (max(0, -left), max(0, left + side - width)))
    if any(any(pair) for pair in padding):
        x = keras.layers.ZeroPadding2D(padding, name="crop_padding")(x)
    top, left = top + padding[0][0], left + padding[1][0]
    padded_height, padded_width = height + sum(padding[0]), width + sum(padding[1])
    x = keras.layers.Cropping2D(
        ((top, padded_height - top - side), (left, padded_width - left - side)), name="crop"
    )(x)
    x = keras.layers.Resizing(IMAGE_SIZE, IMAGE_SIZE, interpolation="bilinear", name="chip")(x)
    if channels == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    # The network takes dlib's pixel values, 0 to 255.
    x = keras.layers.Rescaling(255.0, name="to_255")(x)
    descriptors = network(x)
    return build_embedding_model(images, descriptors, name, mirror_average)


def build_embedding_model(images, features, name, mirror_average, network_name=None):
    """Build an embedder `images` -> the unit-norm `features`, averaged over mirror views if asked.

    Args:
        images: the `keras.Input` of the model.
        features: a tensor (B, D) computed from `images`.
        name: the model name.
        mirror_average: wrap the single-view network in `MirrorAverage`.
        network_name: the name of that single-view network, by default
            `<name>_network`.

    Returns:
        A `keras.Model` named `name` whose output layer "embeddings" is
        an `L2Normalization`, or with `mirror_average` a `MirrorAverage`.
    """
    if not mirror_average:
        return keras.Model(images, L2Normalization(name="embeddings")(features), name=name)

    network = keras.Model(
        images, L2Normalization(name="network_embeddings")(features), name=network_name or f"{name}_network"
    )
    outer_images = keras.Input(shape=network.input_shape[1:], name="images")
    return keras.Model(outer_images, MirrorAverage(network, name="embeddings")(outer_images), name=name)


def single_view_network(embedder):
    """Return `(network, mirror_average)`: the model that embeds one view, and whether `embedder` averages two.

    For an embedder built with `mirror_average`, `network` is the
    single-view model inside its `MirrorAverage`. For any other embedder,
    `network` is `embedder` itself.
    """
    if "embeddings" in [layer.name for layer in embedder.layers]:
        layer = embedder.get_layer("embeddings")
        if isinstance(layer, MirrorAverage):
            return layer.network, True
    return embedder, False


def feature_embedder(embedder, layer_name):
    """Return an embedder whose embedding is the flattened, unit-norm output of one inner layer.

    The projection and the last blocks of a trained embedder fit the
    training classes. An earlier feature map keeps more of what separates new
    classes, and its spatial layout too, so it can embed people or
    classes never seen in training better (see the triplet recipes'
    `embedding_layer`). The new embedder shares the trained weights, and
    averages mirror views when `embedder` does.

    Args:
        embedder: a model built by `build_embedder`.
        layer_name: the name of a layer of its single-view network, for
            example "block3_pool".

    Returns:
        A `keras.Model` `images` -> `embeddings` of shape (B, D), where D
        is the size of the layer's output per image.

    Raises:
        InvalidConfigError: when the network has no layer `layer_name`.
    """
    network, mirror_average = single_view_network(embedder)
    names = [layer.name for layer in network.layers]
    if layer_name not in names:
        raise InvalidConfigError(
            f"The embedder has no layer {layer_name!r} to embed with. Expected one of {names}."
        )

    features = keras.Model(network.input, network.get_layer(layer_name).output, name=f"{embedder.name}_features")
    images = keras.Input(shape=embedder.input_shape[1:], name="images")
    flat = keras.layers.Flatten(name="flatten_features")(features(images))
    return build_embedding_model(images, flat, embedder.name, mirror_average)


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
