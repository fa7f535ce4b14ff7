"""Triton Inference Server model repositories for exported ONNX parts.

`write_model_repository` lays out

    <repository>/<name>/config.pbtxt
    <repository>/<name>/1/model.onnx

for Triton's ONNX Runtime backend. `parse_config` reads the subset of the
protobuf text format that `config.pbtxt` files use, so that tests and
tools can check a configuration without the Triton client packages.
"""

import os
import pathlib
import re
import shutil

import onnx

from export import onnx as onnx_export
from zoo.errors import InvalidConfigError

DEFAULT_MAX_BATCH_SIZE = 64
# The ONNX file inside a Triton model folder: version 1 of the model.
MODEL_FILE = os.path.join("1", "model.onnx")

# ONNX element type -> Triton data type (Triton's model_config.proto).
TRITON_TYPES = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.BOOL: "TYPE_BOOL",
}


def write_model_repository(onnx_path, repository, name=None, max_batch_size=DEFAULT_MAX_BATCH_SIZE, overwrite=False):
    """Write a Triton model folder for an ONNX model with a dynamic batch dimension.

    Args:
        onnx_path: the `.onnx` file, with the batch as the first dimension
            of every input and output.
        repository: the Triton model repository folder.
        name: the model name. Default: the file name without `.onnx`
            (dots become underscores, since Triton uses it as a folder name).
        max_batch_size: the largest batch Triton sends, at least 1.
        overwrite: replace an existing `<repository>/<name>` folder.

    Returns:
        The path of the model folder `<repository>/<name>`.

    Raises:
        InvalidConfigError: `max_batch_size` is below 1, or the model has a
            tensor type Triton does not support or a fixed batch dimension.
        FileExistsError: the model folder exists and `overwrite` is False.
    """
    onnx_path = pathlib.Path(onnx_path)
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise InvalidConfigError(f"max_batch_size must be an integer >= 1. Received: {max_batch_size!r}")
    name = name or onnx_path.name.removesuffix(".onnx").replace(".", "_")
    model_dir = pathlib.Path(repository) / name
    if model_dir.exists() and not overwrite:
        raise FileExistsError(
            f"The Triton model folder {model_dir} already exists. Pass overwrite=True to replace it."
        )

    text = config_text(onnx_path, name, max_batch_size)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    (model_dir / MODEL_FILE).parent.mkdir(parents=True)
    shutil.copyfile(onnx_path, model_dir / MODEL_FILE)
    (model_dir / "config.pbtxt").write_text(text)
    return model_dir


def config_text(onnx_path, name, max_batch_size=DEFAULT_MAX_BATCH_SIZE):
    """Return the `config.pbtxt` text for an ONNX model.

    Dims leave out the batch dimension, because Triton adds it when
    `max_batch_size > 0`. Other symbolic dimensions become -1.
    """
    description = onnx_export.describe(onnx_path)
    lines = [
        f'name: "{name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size}",
    ]
    for section in ("input", "output"):
        entries = [_tensor_entry(tensor, onnx_path) for tensor in description[f"{section}s"]]
        lines.append(f"{section} [")
        lines.append(",\n".join(entries))
        lines.append("]")
    lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def _tensor_entry(tensor, onnx_path):
    if tensor["elem_type"] not in TRITON_TYPES:
        raise InvalidConfigError(
            f"{onnx_path}: tensor '{tensor['name']}' has the ONNX element type "
            f"{onnx.TensorProto.DataType.Name(tensor['elem_type'])}, which has no Triton data type here. "
            f"Supported: {sorted(onnx.TensorProto.DataType.Name(t) for t in TRITON_TYPES)}."
        )
    shape = tensor["shape"]
    if not shape or isinstance(shape[0], int) and shape[0] > 0:
        raise InvalidConfigError(
            f"{onnx_path}: tensor '{tensor['name']}' has the shape {shape}, but Triton batching needs a "
            "dynamic first (batch) dimension."
        )
    dims = ", ".join(str(dim) if isinstance(dim, int) and dim > 0 else "-1" for dim in shape[1:])
    return (
        "  {\n"
        f'    name: "{tensor["name"]}"\n'
        f"    data_type: {TRITON_TYPES[tensor['elem_type']]}\n"
        f"    dims: [ {dims} ]\n"
        "  }"
    )


_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"#]+))')


def parse_config(text):
    """Parse protobuf text format as used by Triton's `config.pbtxt`.

    Fields that repeat, or whose value is a `[...]` list, become lists.
    Messages become dicts and quoted strings become `str`. Integers and
    floats become numbers, and enum names (`TYPE_FP32`) stay strings.

    Args:
        text: the file content.

    Returns:
        A dict from field name to value.

    Raises:
        ValueError: the text is not valid protobuf text format.
    """
    message, _ = _parse_message(_tokenize(text), 0, closing=None)
    return message


def _tokenize(text):
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise ValueError(f"Invalid protobuf text at offset {position}: {text[position:position + 20]!r}")
            break
        position = match.end()
        comment, string, punctuation, word = match.groups()
        if comment is not None:
            continue
        if string is not None:
            tokens.append(("string", string[1:-1].encode().decode("unicode_escape")))
        elif punctuation is not None:
            tokens.append(("punct", punctuation))
        elif word is not None:
            tokens.append(("word", word))
    return tokens


def _parse_message(tokens, position, closing):
    message = {}
    while position < len(tokens):
        kind, value = tokens[position]
        if kind == "punct" and value == closing:
            return message, position + 1
        if kind != "word":
            raise ValueError(f"Expected a field name, received {value!r}.")
        field = value
        position += 1
        if position < len(tokens) and tokens[position] == ("punct", ":"):
            position += 1
        parsed, position = _parse_value(tokens, position)
        if field in message:
            existing = message[field]
            message[field] = (existing if isinstance(existing, list) else [existing]) + (
                parsed if isinstance(parsed, list) else [parsed]
            )
        else:
            message[field] = parsed
        if position < len(tokens) and tokens[position] == ("punct", ","):
            position += 1
    if closing is not None:
        raise ValueError(f"Missing '{closing}' at the end of the text.")
    return message, position


def _parse_value(tokens, position):
    if position >= len(tokens):
        raise ValueError("Expected a value, reached the end of the text.")
    kind, value = tokens[position]
    if (kind, value) == ("punct", "{"):
        return _parse_message(tokens, position + 1, closing="}")
    if (kind, value) == ("punct", "["):
        items = []
        position += 1
        while tokens[position] != ("punct", "]"):
            item, position = _parse_value(tokens, position)
            items.append(item)
            if tokens[position] == ("punct", ","):
                position += 1
        return items, position + 1
    if kind == "string":
        return value, position + 1
    if kind == "word":
        return _scalar(value), position + 1
    raise ValueError(f"Expected a value, received {value!r}.")


def _scalar(word):
    for convert in (int, float):
        try:
            return convert(word)
        except ValueError:
            pass
    return word


def read_config(model_dir):
    """Parse `<model_dir>/config.pbtxt`."""
    return parse_config((pathlib.Path(model_dir) / "config.pbtxt").read_text())

