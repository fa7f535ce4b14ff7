"""Read images and convert them to what a model's metadata asks for.

Sources are file paths, encoded bytes or numpy arrays. PGM (P5 binary and
P2 text) is parsed with numpy, so grey face sets such as ORL need no
Pillow. PNG and JPEG need Pillow, which is imported only when one is read.
The output of `prepare_images` is float32 NHWC with values in [0, 1], the
convention of every exported model.
"""

import io
import logging
import os
import pathlib

import numpy as np

from serving.errors import InvalidInputError, MissingDependencyError

logger = logging.getLogger(__name__)

# ITU-R 601-2 luma weights, the ones Pillow uses for RGB -> L.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8"


def import_pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise MissingDependencyError(
            f"Reading or writing PNG and JPEG files needs Pillow, which is not installed "
            f"({error}). Install it with: pip install pillow"
        ) from error
    return Image


def _describe(source):
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "The image"


def _read_pgm(data, name):
    """Decode a P5 or P2 PGM into a float32 (H, W, 1) array in [0, 1]."""
    magic = data[:2]
    fields = []
    position = 2

    # The header is magic, width, height and maxval, separated by whitespace,
    # with '#' comments running to the end of the line.
    while len(fields) < 3:
        while position < len(data) and data[position : position + 1].isspace():
            position += 1
        if position >= len(data):
            raise InvalidInputError(f"{name}: PGM header is truncated.")
        if data[position : position + 1] == b"#":
            end = data.find(b"\n", position)
            position = len(data) if end < 0 else end + 1
            continue
        start = position
        while position < len(data) and not data[position : position + 1].isspace():
            position += 1
        token = data[start:position]
        if not token.isdigit():
            raise InvalidInputError(f"{name}: PGM header field {token!r} is not a number.")
        fields.append(int(token))
    width, height, maxval = fields
    if width < 1 or height < 1 or not 1 <= maxval <= 65535:
        raise InvalidInputError(
            f"{name}: PGM header gives width={width}, height={height}, maxval={maxval}; "
            "expected positive sizes and 1 <= maxval <= 65535."
        )
    count = width * height

    if magic == b"P5":
        # Exactly one whitespace byte separates maxval from the raster.
        position += 1
        dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
        expected_bytes = count * dtype.itemsize
        raster = data[position : position + expected_bytes]
        if len(raster) < expected_bytes:
            raise InvalidInputError(
                f"{name}: PGM raster is truncated: expected {expected_bytes} bytes for "
                f"{width}x{height}, received {len(raster)}."
            )
        pixels = np.frombuffer(raster, dtype=dtype)
    else:
        tokens = data[position:].split()
        if len(tokens) < count:
            raise InvalidInputError(
                f"{name}: PGM (P2) raster is truncated: expected {count} values for "
                f"{width}x{height}, received {len(tokens)}."
            )
        try:
            pixels = np.array([int(token) for token in tokens[:count]], dtype=np.int64)
        except ValueError as error:
            raise InvalidInputError(f"{name}: PGM (P2) raster has a non-integer value.") from error

    if pixels.max() > maxval or pixels.min() < 0:
        raise InvalidInputError(
            f"{name}: PGM pixel values must lie in [0, {maxval}]; "
            f"received [{pixels.min()}, {pixels.max()}]."
        )
    image = pixels.astype(np.float32).reshape(height, width, 1) / np.float32(maxval)
    return image


def _read_with_pillow(data, name):
    """Decode PNG, JPEG or another Pillow format into float32 (H, W, C) in [0, 1]."""
    Image = import_pillow()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mode = image.mode
            if mode == "P":
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            elif mode in ("1", "LA"):
                image = image.convert("L")
            elif mode in ("I", "I;16", "I;16B", "I;16L"):
                array = np.asarray(image, dtype=np.float32) / np.float32(65535)
                return np.clip(array, 0.0, 1.0)[:, :, None]
            elif mode not in ("L", "RGB", "RGBA"):
                image = image.convert("RGB")
            array = np.asarray(image)
    except Image.DecompressionBombError as error:
        raise InvalidInputError(
            f"{name} is too large to decode ({error}). Expected an image of at most "
            f"{Image.MAX_IMAGE_PIXELS} pixels; resize it first."
        ) from error
    except Image.UnidentifiedImageError as error:
        # Pillow's own message shows the repr of its BytesIO, which helps no one.
        raise InvalidInputError(
            f"{name} is not a readable image (expected PNG, JPEG or PGM; received {len(data)} bytes "
            f"starting with {data[:8]!r})."
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow raises UnidentifiedImageError (an OSError) for unknown
        # formats and OSError or SyntaxError for truncated or corrupt files.
        raise InvalidInputError(
            f"{name} could not be read as an image ({error}). Expected a PGM, PNG or "
            "JPEG file that is complete."
        ) from error
    if array.ndim == 2:
        array = array[:, :, None]
    return array.astype(np.float32) / np.float32(255)


def decode_image(data, name="image"):
    """Decode encoded image bytes into float32 (H, W, C) in [0, 1].

    Args:
        data: the bytes of a PGM (P5 or P2), PNG or JPEG file. Other formats
            that Pillow reads are accepted too.
        name: how error messages refer to the source.

    Returns:
        float32 array of shape (H, W, C) with C in {1, 3, 4}.

    Raises:
        InvalidInputError: the bytes are empty, truncated or not an image.
        MissingDependencyError: the format needs Pillow and it is absent.
    """
    if len(data) == 0:
        raise InvalidInputError(f"{name} is empty: expected the bytes of a PGM, PNG or JPEG file.")
    if data[:2] in (b"P5", b"P2"):
        return _read_pgm(data, name)
    return _read_with_pillow(data, name)


def read_image(source):
    """Read one image into float32 (H, W, C) in [0, 1].

    Args:
        source: a path (str or os.PathLike), encoded bytes, or a numpy array
            of shape (H, W, C) with C in {1, 3, 4}, either uint8 (scaled by
            1/255) or floating point with values in [0, 1]. A path ending
            in `.npy` is read with `numpy.load` and checked like an array.

    Returns:
        float32 array of shape (H, W, C).

    Raises:
        InvalidInputError: the file is missing or unreadable, or the array
            has the wrong shape, dtype or values.
    """
    if isinstance(source, np.ndarray):
        if source.ndim != 3:
            raise InvalidInputError(_shape_message(source.shape, single=True))
        return _array_to_float(source, "image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source), _describe(bytes(source)))
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        if path.suffix.lower() == ".npy":
            return _read_npy(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InvalidInputError(f"Image {path} could not be read: {error.strerror}.") from error
        return decode_image(data, str(path))
    raise InvalidInputError(
        "An image must be a path, encoded bytes or a numpy array of shape (H, W, C). "
        f"Received: {type(source).__name__}."
    )


def _read_npy(path):
    """Read one image saved with `numpy.save`, without unpickling objects."""
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as error:
        raise InvalidInputError(f"Image {path} could not be read: {error.strerror or error}.") from error
    except (ValueError, EOFError) as error:
        # numpy raises EOFError for an empty file, and ValueError for a
        # truncated one, a bad header or pickled objects. Its own message
        # suggests unpickling, which a server must never do, so it is not shown.
        raise InvalidInputError(
            f"{path} is not a readable .npy image (expected a numeric array of shape (H, W, C) "
            f"written by numpy.save; received {path.stat().st_size} bytes that numpy.load could not "
            "read as a plain array)."
        ) from error
    if not isinstance(array, np.ndarray) or array.ndim != 3:
        shape = getattr(array, "shape", ())
        raise InvalidInputError(f"{path}: " + _shape_message(shape, single=True))
    return _array_to_float(array, str(path))


def _shape_message(shape, single, model_shape=None):
    expected = "a single image of shape (H, W, C)" if single else (
        "a batch of shape (N, H, W, C) or a single image of shape (H, W, C)"
    )
    message = f"Expected {expected} with C in 1, 3 or 4; received an array of shape {tuple(shape)}."
    if len(shape) == 2:
        message += " For one grey image add a channel axis: image[:, :, None]."
    elif len(shape) == 3 and not single:
        message += " For a batch of grey images add a channel axis: images[..., None]."
    if model_shape is not None:
        height, width, channels = model_shape
        message += (
            f" The model takes images of shape ({height}, {width}, {channels}); "
            "other heights, widths and channel counts are converted."
        )
    return message


def _array_to_float(array, name):
    """Check dtype, channels and values of an (..., C) array and scale it to float32 [0, 1]."""
    if array.shape[-1] not in (1, 3, 4):
        raise InvalidInputError(
            f"{name} must have 1, 3 or 4 channels in the last axis (NHWC); "
            f"received shape {array.shape}."
        )
    if 0 in array.shape[-3:-1]:
        raise InvalidInputError(
            f"{name} must be at least 1 x 1 pixels; received shape {array.shape}. Pass a non-empty image."
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidInputError(
            f"{name} must be uint8 or floating point in [0, 1]; received dtype {array.dtype}. "
            "Convert it, for example with array.astype(np.float32) / 255."
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise InvalidInputError(
            f"{name} contains {int(array.size - finite.sum())} non-finite values (NaN or inf)."
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise InvalidInputError(
            f"{name} values must lie in [0, 1]; received [{low:g}, {high:g}]. "
            "For 0-255 pixels divide by 255 first."
        )
    return array.astype(np.float32, copy=False)


def convert_channels(image, channels):
    """Convert a float (H, W, C) image to 1 (grey) or 3 (RGB) channels.

    RGB to grey uses the ITU-R 601-2 luma weights (as Pillow does), grey to
    RGB repeats the channel, and an alpha channel is dropped.
    """
    if channels not in (1, 3):
        raise InvalidInputError(f"Models read 1 or 3 channels; the metadata asks for {channels}.")
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] == channels:
        return image
    if channels == 1:
        grey = image.astype(np.float64) @ _LUMA
        return grey[..., None].astype(np.float32)
    return np.repeat(image, 3, axis=-1)


def _bilinear_weights(in_size, out_size):
    """Return the (out_size, in_size) matrix of Pillow's BILINEAR resampling.

    Pillow scales the triangle filter's support by the downscale factor, so a
    reduction averages over all covered pixels instead of skipping rows.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    centers = (np.arange(out_size) + 0.5) * scale
    offsets = (np.arange(in_size)[None, :] + 0.5 - centers[:, None]) / filter_scale
    weights = np.clip(1.0 - np.abs(offsets), 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def resize_numpy(image, height, width):
    """Resize float (H, W, C) with Pillow's BILINEAR algorithm, in numpy."""
    rows = _bilinear_weights(image.shape[0], height)
    columns = _bilinear_weights(image.shape[1], width)
    resized = np.einsum("ih,hwc,jw->ijc", rows, image.astype(np.float64), columns)
    return resized.astype(np.float32)


def resize(image, height, width):
    """Resize a float (H, W, C) image with bilinear filtering.

    Pillow resizes each channel as a 32-bit float image when it is
    installed. Without Pillow the same algorithm runs in numpy, so grey
    PGM input works everywhere.
    """
    if image.shape[:2] == (height, width):
        return image
    try:
        from PIL import Image
    except ImportError:
        return resize_numpy(image, height, width)
    channels = []
    for c in range(image.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype=np.float32))
        channels.append(np.asarray(plane.resize((width, height), Image.BILINEAR)))
    return np.stack(channels, axis=-1).astype(np.float32)


def prepare_image(image, height, width, channels):
    """Convert one float (H, W, C) image in [0, 1] to (height, width, channels)."""
    image = convert_channels(image, channels)
    image = resize(image, height, width)
    return np.clip(image, 0.0, 1.0)


def prepare_images(images, height, width, channels):
    """Read a batch of images and convert it to the model's input.

    Args:
        images: one source or a batch. A batch is a list or tuple of sources
            (paths, bytes, (H, W, C) arrays) or a numpy array (N, H, W, C).
            One source is a path, bytes or an (H, W, C) array. Arrays are
            uint8 or floating point in [0, 1].
        height: model input height, from the `input_height` metadata.
        width: model input width, from the `input_width` metadata.
        channels: model input channels (1 or 3), from `input_channels`.

    Returns:
        float32 array of shape (N, height, width, channels) in [0, 1].

    Raises:
        InvalidInputError: an unreadable or truncated file, a 2-D array, a
            wrong dtype, NaN or inf pixels, or an empty batch.
    """
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            if images.shape[0] == 0:
                raise InvalidInputError(f"The batch is empty: received shape {images.shape}.")
            batch = _array_to_float(images, "images")
            if batch.shape[1:] == (height, width, channels):
                return batch
            _warn_converted({batch.shape[1:]: len(batch)}, len(batch), (height, width, channels))
            return np.stack([prepare_image(image, height, width, channels) for image in batch])
        if images.ndim == 3 and images.shape[-1] in (1, 3, 4):
            images = [images]
        else:
            raise InvalidInputError(
                _shape_message(images.shape, single=False, model_shape=(height, width, channels))
            )
    elif isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview)):
        images = [images]
    elif not isinstance(images, (list, tuple)):
        raise InvalidInputError(
            "images must be a path, bytes, a numpy array (N, H, W, C) or (H, W, C), "
            f"or a list of those. Received: {type(images).__name__}."
        )
    if len(images) == 0:
        raise InvalidInputError("The batch is empty: pass at least one image.")
    for source in images:
        if isinstance(source, np.ndarray) and source.ndim != 3:
            raise InvalidInputError(
                _shape_message(source.shape, single=True, model_shape=(height, width, channels))
            )

    prepared = []
    converted = {}
    for source in images:
        image = read_image(source)
        if image.shape != (height, width, channels):
            converted[image.shape] = converted.get(image.shape, 0) + 1
        prepared.append(prepare_image(image, height, width, channels))
    _warn_converted(converted, len(images), (height, width, channels))
    return np.stack(prepared)


def _describe_shape(shape):
    """Return `"300x400 RGB"` for an (H, W, C) shape: height x width and the channel layout."""
    height, width, channels = shape
    layout = {1: "grey", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")
    return f"{height}x{width} {layout}"


def _warn_converted(converted, total, model_shape):
    """Log one warning per call that names the image sizes and layouts converted to the model input."""
    if not converted:
        return
    target = _describe_shape(model_shape)
    sources = ", ".join(
        f"{count} of {_describe_shape(shape)}" for shape, count in sorted(converted.items())
    )
    logger.warning(
        "Converted %d of %d images to the model input (height x width): %s converted to %s. "
        "Pass %s images to skip the conversion.",
        sum(converted.values()),
        total,
        sources,
        target,
        target,
    )


def to_uint8(images):
    """Convert float images in [0, 1] to uint8 by rounding, clipping first."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
