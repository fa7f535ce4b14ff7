"""Read request bodies (JSON or multipart), validate fields, and describe them in OpenAPI.

Every POST endpoint accepts the same fields in two encodings:
- `application/json`: images are base64 strings (one string, or a list);
- `multipart/form-data`: images are file parts, other fields text parts.
The body size limit is enforced while reading, before parsing.
"""

import base64
import binascii
import io
import json
import math

import numpy as np

from serving.errors import InvalidInputError
from serving.http.errors import HTTPError
from serving.images import decode_image, import_pillow

JSON = "application/json"
MULTIPART = "multipart/form-data"

IMAGE_EXPECTED = "a PGM, PNG or JPEG file (a file part, or a base64 string in JSON)"

# An image larger than this is rejected before its pixels are decoded:
# 4096 x 4096 RGB pixels already take 200 MB as float32.
MAX_IMAGE_PIXELS = 4096 * 4096

# Images per request; each is decoded to float32 before the model runs.
MAX_IMAGES = 256
MAX_SEED = 2**63 - 1


async def read_body(request, max_bytes):
    """Read the request body, rejecting it with 413 as soon as it exceeds `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPError(400, f"Content-Length must be an integer. Received: {declared!r}", field="Content-Length")
        if int(declared) > max_bytes:
            raise _too_large(int(declared), max_bytes)

    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(size, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size, max_bytes):
    return HTTPError(
        413,
        f"The request body has {size} bytes or more, over the limit of {max_bytes} bytes. "
        "Send fewer or smaller images, or start the server with a larger --max-upload-mb.",
        field="body",
        expected=f"at most {max_bytes} bytes",
    )


class RequestFields:
    """The fields of one request body, with typed accessors that raise 4xx `HTTPError`s.

    Attributes:
        values: field name -> list of values. JSON values keep their JSON
            type; multipart text parts are str and file parts are bytes.
        media_type: `application/json`, `multipart/form-data`, or None for an
            empty body.
    """

    def __init__(self, values, media_type):
        self.values = values
        self.media_type = media_type

    def _get(self, name):
        values = self.values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise HTTPError(422, f"Field '{name}' was sent {len(values)} times; send it once.", field=name)
        return values[0]

    def _multipart_text(self, name, value):
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError as error:
                raise HTTPError(422, f"Field '{name}' must be UTF-8 text.", field=name) from error
        return value

    def _json_value(self, name, value, expected):
        """Return a JSON field value, parsing the JSON text of a multipart part."""
        value = self._multipart_text(name, value)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise HTTPError(422, f"Field '{name}' must be {expected} in JSON.", field=name, expected=expected) from None

    def integer(self, name, default, minimum, maximum):
        """Return an integer field in [minimum, maximum], or `default` when absent."""
        value = self._get(name)
        expected = f"an integer from {minimum} to {maximum}"
        if value is None:
            return default
        value = self._multipart_text(name, value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r}", field=name, expected=expected) from None
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r}", field=name, expected=expected)
        return value

    def number(self, name, default, minimum=-math.inf, maximum=math.inf):
        """Return a finite number field in [minimum, maximum], or `default` when absent."""
        received = self._get(name)
        expected = _number_range(minimum, maximum)
        if received is None:
            return default
        message = f"Field '{name}' must be {expected}. Received: {_describe_received(received)}."
        value = self._multipart_text(name, received)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise HTTPError(422, message, field=name, expected=expected) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HTTPError(422, message, field=name, expected=expected)
        value = float(value)
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise HTTPError(422, message, field=name, expected=expected)
        return value

    def boolean(self, name, default):
        """Return a boolean field (JSON true/false, or "true"/"false"/"1"/"0" in multipart)."""
        value = self._get(name)
        expected = "true or false"
        if value is None:
            return default
        value = self._multipart_text(name, value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r}", field=name, expected=expected)

    def choice(self, name, options, default):
        """Return a string field that is one of `options`, or `default` when absent."""
        value = self._get(name)
        if value is None:
            return default
        value = self._multipart_text(name, value)
        if value not in options:
            expected = "one of " + ", ".join(repr(option) for option in options)
            raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r}", field=name, expected=expected)
        return value

    def text(self, name, required=False, max_length=256):
        """Return a string field of 1 to `max_length` characters, or None when absent and optional."""
        value = self._get(name)
        expected = f"a string of 1 to {max_length} characters"
        if value is None:
            if required:
                raise HTTPError(422, f"Field '{name}' is missing.", field=name, expected=expected)
            return None
        value = self._multipart_text(name, value)
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r:.80}", field=name, expected=expected)
        return value

    def latents(self, name, latent_dim, required=True, max_rows=1024):
        """Return a float32 (N, latent_dim) array from a JSON list, or None when absent and optional.

        A multipart text part contains the same JSON list as text.
        """
        value = self._get(name)
        expected = f"a list of {latent_dim} finite numbers, or a list of such lists (at most {max_rows})"
        if value is None:
            if required:
                raise HTTPError(422, f"Field '{name}' is missing.", field=name, expected=expected)
            return None
        value = self._json_value(name, value, expected)
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise HTTPError(422, f"Field '{name}' must be {expected}.", field=name, expected=expected) from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != latent_dim or not 1 <= array.shape[0] <= max_rows:
            raise HTTPError(
                422,
                f"Field '{name}' must be {expected} (latent_dim from the model metadata). "
                f"Received an array of shape {np.shape(value)}.",
                field=name,
                expected=expected,
            )
        finite = np.isfinite(array)
        if not finite.all():
            raise HTTPError(
                422,
                f"Field '{name}' contains {int(array.size - finite.sum())} non-finite values (NaN or inf).",
                field=name,
                expected=expected,
            )
        if np.abs(array).max() > np.finfo(np.float32).max:
            raise HTTPError(422, f"Field '{name}' has values beyond the float32 range.", field=name, expected=expected)
        return array.astype(np.float32)

    def sources(self, name, latent_dim, default, max_rows):
        """Return the sources of a style-mixing grid: a list of seeds, or a float32 (N, latent_dim) array.

        A JSON list of integers >= 0 gives seeds and a list of lists gives
        latents; `default` (a tuple of seeds) when absent.
        """
        value = self._get(name)
        expected = f"a list of 1 to {max_rows} integer seeds >= 0, or a list of 1 to {max_rows} latents of {latent_dim} numbers"
        if value is None:
            return list(default)
        value = self._json_value(name, value, expected)
        if isinstance(value, list) and value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            if len(value) > max_rows or min(value) < 0 or max(value) > MAX_SEED:
                raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {value!r:.120}", field=name, expected=expected)
            return value
        if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
            return self.latents(name, latent_dim, max_rows=max_rows)
        raise HTTPError(422, f"Field '{name}' must be {expected}. Received: {_describe_received(value)}.", field=name, expected=expected)

    def images(self, name, count=None, required=True):
        """Decode the images of a field into float32 (H, W, C) arrays in [0, 1].

        Args:
            name: the field name.
            count: the exact number of images, or None for 1 to MAX_IMAGES.
            required: raise when the field is absent.

        Returns:
            A list of (H, W, C) arrays, one per image, in request order.
        """
        values = self.values.get(name) or []
        if len(values) == 1 and isinstance(values[0], list):
            values = values[0]
        if not values:
            if required:
                raise HTTPError(422, f"Field '{name}' is missing: send at least one image.", field=name, expected=IMAGE_EXPECTED)
            return []
        if count is not None and len(values) != count:
            raise HTTPError(422, f"Field '{name}' must contain exactly {count} image(s); received {len(values)}.", field=name, expected=IMAGE_EXPECTED)
        if len(values) > MAX_IMAGES:
            raise HTTPError(422, f"Field '{name}' contains {len(values)} images, over the limit of {MAX_IMAGES} per request.", field=name, expected=f"1 to {MAX_IMAGES} images")
        label = name if count == 1 else None
        return [
            decode_upload(value, label or f"{name}[{index}]")
            for index, value in enumerate(values)
        ]


def decode_upload(value, field):
    """Decode one uploaded image (bytes, or a base64 string) into float32 (H, W, C) in [0, 1]."""
    if isinstance(value, str):
        try:
            value = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPError(400, f"Field '{field}' is not valid base64.", field=field, expected=IMAGE_EXPECTED) from None
    if not isinstance(value, bytes):
        raise HTTPError(422, f"Field '{field}' must be an image; received a JSON {type(value).__name__}.", field=field, expected=IMAGE_EXPECTED)
    _check_pixel_count(value, field)
    try:
        return decode_image(value, name=f"Field '{field}'")
    except InvalidInputError as error:
        raise HTTPError(400, str(error), field=field, expected=IMAGE_EXPECTED) from error


def _check_pixel_count(data, field):
    """Reject PNG and JPEG files whose header declares more than MAX_IMAGE_PIXELS pixels."""
    if data[:2] in (b"P5", b"P2") or not data:
        # A PGM raster is uncompressed, so the body size limit bounds it.
        return
    Image = import_pillow()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:
        # Pillow refuses to open images far beyond its own pixel limit.
        raise HTTPError(
            413,
            f"Field '{field}' is an image too large to decode ({error}).",
            field=field,
            expected=f"at most {MAX_IMAGE_PIXELS} pixels",
        ) from None
    except (OSError, SyntaxError, ValueError):
        # Unreadable headers get their message from decode_image.
        return
    if width * height > MAX_IMAGE_PIXELS:
        raise HTTPError(
            413,
            f"Field '{field}' is an image of {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS}.",
            field=field,
            expected=f"at most {MAX_IMAGE_PIXELS} pixels",
        )


async def parse_fields(request, max_bytes):
    """Read and parse a JSON or multipart body into `RequestFields`.

    Raises:
        HTTPError: 413 over `max_bytes`, 415 for another content type, 400
            for malformed JSON or multipart.
    """
    body = await read_body(request, max_bytes)
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    expected = f"Content-Type {JSON} or {MULTIPART}"

    if not body and media_type in ("", JSON):
        return RequestFields({}, None)
    if media_type == JSON:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise HTTPError(400, f"The body is not valid JSON: {error}", field="body", expected="a JSON object") from None
        if not isinstance(document, dict):
            raise HTTPError(422, f"The JSON body must be an object; received a {type(document).__name__}.", field="body", expected="a JSON object")
        return RequestFields({key: [value] for key, value in document.items()}, JSON)
    if media_type == MULTIPART:
        return RequestFields(await _parse_multipart(request.headers, body, max_bytes), MULTIPART)
    raise HTTPError(
        415,
        f"Content-Type {media_type or '(none)'} is not supported; send {JSON} or {MULTIPART}.",
        field="Content-Type",
        expected=expected,
    )


async def _parse_multipart(headers, body, max_bytes):
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():
        yield body
        yield b""

    # The parser keeps the parts read before a cut, so a truncated body
    # would run with defaults for the fields it lost.
    boundary = _multipart_boundary(headers.get("content-type", ""))
    if boundary and not _has_close_delimiter(body, boundary):
        raise HTTPError(
            400,
            f"The multipart body has no closing boundary --{boundary.decode('latin-1')}--, "
            "so it was cut short. Send the whole body.",
            field="body",
            expected=MULTIPART,
        )

    parser = MultiPartParser(headers, stream(), max_files=MAX_IMAGES + 8, max_fields=64, max_part_size=max_bytes)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise HTTPError(400, f"The multipart body is malformed: {error.message}", field="body", expected=MULTIPART) from None
    values = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                value = await value.read()
            values.setdefault(key, []).append(value)
    finally:
        await form.close()
    return values


def _multipart_boundary(content_type):
    """Return the boundary parameter of a multipart Content-Type as bytes, or None."""
    # Starlette's MultiPartParser reads the boundary with this function, so
    # quoting and backslash escapes resolve to the boundary that it splits on.
    from starlette.formparsers import parse_options_header

    _, parameters = parse_options_header(content_type)
    return parameters.get(b"boundary") or None


def _has_close_delimiter(body, boundary):
    """Return whether `body` contains the multipart close delimiter of `boundary`.

    RFC 2046 puts the delimiter at the start of the body or after a CRLF,
    and allows an epilogue after it, which the parser ignores.
    """
    close = b"--" + boundary + b"--"
    return body.startswith(close) or b"\r\n" + close in body


def describe_body(fields, required=(), images=()):
    """Build an OpenAPI requestBody that offers the same fields as JSON and as multipart.

    Args:
        fields: field name -> JSON schema of a non-image field.
        required: the names of required fields.
        images: (name, single) pairs for image fields; a single image field
            takes one image, others take a list.

    Returns:
        A dict for FastAPI's `openapi_extra={"requestBody": ...}`.
    """
    json_properties = dict(fields)
    form_properties = {}
    for name, schema in fields.items():
        form_properties[name] = schema
    for name, single in images:
        json_image = {"type": "string", "contentEncoding": "base64", "description": "A base64 PGM, PNG or JPEG file."}
        form_image = {"type": "string", "format": "binary", "description": "A PGM, PNG or JPEG file."}
        if single:
            json_properties[name] = json_image
            form_properties[name] = form_image
        else:
            json_properties[name] = {"type": "array", "items": json_image, "minItems": 1, "maxItems": MAX_IMAGES}
            form_properties[name] = {"type": "array", "items": form_image, "minItems": 1, "maxItems": MAX_IMAGES}

    def schema(properties):
        result = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            result["required"] = list(required)
        return result

    return {
        "required": bool(required),
        "content": {
            JSON: {"schema": schema(json_properties)},
            MULTIPART: {"schema": schema(form_properties)},
        },
    }


def reject_unknown_fields(fields, body):
    """Raise a 422 `HTTPError` when `fields` has a field that `body` (from `describe_body`) does not list."""
    schema = body["content"][JSON]["schema"]
    known = sorted(schema["properties"])
    unknown = sorted(set(fields.values) - set(known))
    if unknown:
        raise HTTPError(
            422,
            f"Unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"this endpoint takes {', '.join(known) or 'no fields'}. Check the spelling against /docs.",
            field=unknown[0],
            expected=f"fields from: {', '.join(known)}",
        )


def _number_range(minimum, maximum):
    """Return the wording of a number field's range, leaving out infinite bounds."""
    if math.isinf(minimum) and math.isinf(maximum):
        return "a finite number"
    if math.isinf(maximum):
        return f"a finite number >= {minimum:g}"
    if math.isinf(minimum):
        return f"a finite number <= {maximum:g}"
    return f"a finite number from {minimum:g} to {maximum:g}"


def _describe_received(value):
    """Return a received field value with its type, for example `'nan' (a string)`."""
    kinds = {str: "a string", bytes: "bytes", bool: "a boolean", int: "an integer", float: "a number"}
    kind = kinds.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, (list, dict)):
        kind = "a JSON array" if isinstance(value, list) else "a JSON object"
    return f"{value!r:.80} ({kind})"
