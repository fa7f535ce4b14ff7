"""onnxruntime sessions and what the serving wrappers read from them.

Every wrapper takes its preprocessing and its input and output names from
the model file: the ONNX `metadata_props` written at export time and the
session's declared inputs and outputs. Nothing is guessed from node names.
"""

import ctypes
import dataclasses
import hashlib
import logging
import os
import pathlib
import sys

import numpy as np
import onnxruntime

from serving.errors import CorruptFileError, InvalidInputError, InvalidModelError, ModelNotFoundError

logger = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"

# The smallest valid ONNX file is a few dozen bytes; anything shorter is cut off.
_MIN_MODEL_BYTES = 16


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """Name, shape and element type of one model input or output.

    Attributes:
        name: the ONNX input or output name, for example `"images"`.
        shape: one entry per axis, an int for a fixed size and None for a
            dynamic one (a symbolic name such as `"N"` becomes None).
        element_type: the onnxruntime type string, for example `"tensor(float)"`.
    """

    name: str
    shape: tuple
    element_type: str


def _cuda_driver_present():
    """Return False only when the NVIDIA driver library surely is missing.

    onnxruntime-gpu lists `CUDAExecutionProvider` in
    `get_available_providers()` on machines without a GPU, and then logs a
    loud error when a session asks for it. Without the driver library no
    CUDA device can exist, so the request is skipped.
    """
    if sys.platform.startswith("linux"):
        library = "libcuda.so.1"
    elif sys.platform == "win32":
        library = "nvcuda.dll"
    else:
        return False
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def default_providers():
    """Return the providers to request: CUDA then CPU where CUDA may work, else CPU.

    Returns:
        A list of onnxruntime execution provider names.
    """
    if CUDA_PROVIDER in onnxruntime.get_available_providers() and _cuda_driver_present():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def _check_model_file(path):
    if not path.exists():
        raise ModelNotFoundError(
            f"ONNX model not found: {path}. Pass the path of an exported .onnx file."
        )
    if not path.is_file():
        raise ModelNotFoundError(f"ONNX model path {path} is not a regular file.")
    size = path.stat().st_size
    if size < _MIN_MODEL_BYTES:
        raise CorruptFileError(
            f"{path} is not a valid ONNX model: it has only {size} bytes "
            "(truncated or empty). Export the model again."
        )


def _provider_names(providers):
    # onnxruntime accepts a name or a (name, options) pair per provider.
    return [provider[0] if isinstance(provider, tuple) else provider for provider in providers]


def create_session(path, providers=None):
    """Create an onnxruntime session for an ONNX file and log its provider.

    Args:
        path: path of the `.onnx` file.
        providers: execution providers to request, in order of preference,
            as names or `(name, options)` pairs. Default: CUDA then CPU when
            a CUDA device may be usable, else CPU.

    Returns:
        An `onnxruntime.InferenceSession`. `session.get_providers()[0]` is
        the provider that really runs it: onnxruntime falls back to the
        CPU when CUDA is requested but fails to load.

    Raises:
        ModelNotFoundError: the file does not exist.
        CorruptFileError: the file is empty, truncated or not ONNX.
        InvalidInputError: a requested provider is not in this onnxruntime build.
    """
    path = pathlib.Path(path)
    _check_model_file(path)

    if providers is None:
        providers = default_providers()
    requested = _provider_names(providers)
    available = onnxruntime.get_available_providers()
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise InvalidInputError(
            f"Execution providers {unknown} are not in this onnxruntime build. "
            f"Available: {available}."
        )

    try:
        session = onnxruntime.InferenceSession(str(path), providers=list(providers))
    except Exception as error:
        # onnxruntime raises its own exception types (InvalidProtobuf, Fail,
        # InvalidGraph, ...), which share no base class below Exception.
        if not type(error).__module__.startswith("onnxruntime"):
            raise
        raise CorruptFileError(
            f"{path} could not be loaded as an ONNX model ({error}). "
            "The file may be truncated or of another format; export it again."
        ) from error

    in_use = session.get_providers()
    if requested and requested[0] not in in_use:
        logger.warning(
            "%s was requested for %s but is not usable here; running on %s.",
            requested[0],
            path.name,
            in_use[0],
        )
    # Only a fallback from a requested GPU is worth a line by default: the
    # warning above covers it, so the provider in use is a debug detail.
    logger.debug("Running %s on %s.", path.name, in_use[0])
    return session


def file_sha256(path):
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_quantized_copy(path):
    # `zoo export --quantize int8` writes NAME.int8.onnx beside NAME.onnx.
    return len(path.suffixes) > 1 and path.suffixes[-2] in (".int8", ".uint8", ".fp16")


def find_part(folder, tasks, providers=None):
    """Return the `.onnx` file of an artifact folder whose `zoo_task` is one of `tasks`.

    An artifact such as a VAE has several parts (`encoder.onnx`,
    `decoder.onnx`), so a wrapper given the folder picks its own part.
    Float32 files are tried before quantized copies.

    Args:
        folder: the artifact folder.
        tasks: the `zoo_task` values the caller can run.
        providers: passed to `create_session` to read each file's metadata.

    Raises:
        ModelNotFoundError: the folder has no `.onnx` file.
        InvalidModelError: no part has one of `tasks`; the message names the parts.
    """
    folder = pathlib.Path(folder)
    candidates = sorted(folder.glob("*.onnx"), key=lambda path: (_is_quantized_copy(path), path.name))
    if not candidates:
        raise ModelNotFoundError(f"{folder} contains no .onnx file. Pass an artifact folder or an .onnx file.")

    found = {}
    for candidate in candidates:
        session = create_session(candidate, providers)
        task = session.get_modelmeta().custom_metadata_map.get("zoo_task")
        if task in tasks:
            return candidate
        found[candidate.name] = task
    parts = ", ".join(f"{name} (zoo_task={task!r})" for name, task in found.items())
    raise InvalidModelError(
        f"No part of {folder} has a zoo_task in {list(tasks)}. Its parts: {parts}. "
        "Pass the artifact whose task fits this command."
    )


def _tensor_info(node_arg):
    shape = tuple(dim if isinstance(dim, int) and dim >= 0 else None for dim in node_arg.shape)
    return TensorInfo(name=node_arg.name, shape=shape, element_type=node_arg.type)


class OnnxModel:
    """An onnxruntime session with the model's metadata, inputs and outputs.

    Args:
        path: the `.onnx` file, or an artifact folder when `tasks` is given.
        providers: execution providers, passed to `create_session`.
        tasks: the `zoo_task` values the caller runs. With a folder, the
            part whose task is one of them is loaded (see `find_part`).

    Attributes:
        path: the `.onnx` file.
        session: the `onnxruntime.InferenceSession`.
        provider: the execution provider that runs the session.
        metadata: the ONNX `metadata_props` as a str -> str dict.
        inputs: input name -> `TensorInfo`, in the session's order.
        outputs: output name -> `TensorInfo`, in the session's order.
        task: the `zoo_task` metadata value, or None when absent.
    """

    def __init__(self, path, providers=None, tasks=None):
        self.path = pathlib.Path(path)
        if tasks is not None and self.path.is_dir():
            self.path = find_part(self.path, tasks, providers)
        self.session = create_session(self.path, providers)
        self.provider = self.session.get_providers()[0]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.inputs = {arg.name: _tensor_info(arg) for arg in self.session.get_inputs()}
        self.outputs = {arg.name: _tensor_info(arg) for arg in self.session.get_outputs()}
        self.task = self.metadata.get("zoo_task")
        self._sha256 = None

    @property
    def sha256(self):
        """SHA-256 hex digest of the model file, computed once on first use."""
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    def require_task(self, *tasks):
        """Raise InvalidModelError unless the `zoo_task` metadata is one of `tasks`."""
        if self.task not in tasks:
            raise InvalidModelError(
                f"{self.path} has zoo_task={self.task!r} in its metadata, but this "
                f"wrapper needs one of {list(tasks)}. Pass a model exported for that task."
            )

    def require_io(self, inputs=(), outputs=()):
        """Raise InvalidModelError unless the model has these input and output names."""
        missing_inputs = [name for name in inputs if name not in self.inputs]
        missing_outputs = [name for name in outputs if name not in self.outputs]
        if missing_inputs or missing_outputs:
            raise InvalidModelError(
                f"{self.path} lacks inputs {missing_inputs} or outputs {missing_outputs}. "
                f"It has inputs {list(self.inputs)} and outputs {list(self.outputs)}. "
                "Export the model with the zoo exporter, which names them."
            )

    def metadata_int(self, key, default=None):
        """Return an integer metadata value.

        Args:
            key: the `metadata_props` key.
            default: returned when the key is absent. None makes the key required.

        Raises:
            InvalidModelError: the key is required and absent, or not an integer.
        """
        if key not in self.metadata:
            if default is not None:
                return default
            raise InvalidModelError(
                f"{self.path} has no '{key}' in its metadata_props (keys: "
                f"{sorted(self.metadata)}). Export it again with the zoo exporter."
            )
        try:
            return int(self.metadata[key])
        except ValueError as error:
            raise InvalidModelError(
                f"{self.path} metadata '{key}' must be an integer. "
                f"Received: {self.metadata[key]!r}"
            ) from error

    def image_shape(self, tensor_name):
        """Return (height, width, channels) of the images this model reads or writes.

        The metadata keys `input_height`, `input_width` and `input_channels`
        come first. Where they are absent, the static shape of `tensor_name`
        (NHWC) is used. Where both exist they must agree.

        Raises:
            InvalidModelError: neither source gives the shape, or they disagree.
        """
        info = self.inputs.get(tensor_name) or self.outputs.get(tensor_name)
        static = None
        if info is not None and len(info.shape) == 4 and None not in info.shape[1:]:
            static = tuple(info.shape[1:])

        keys = ("input_height", "input_width", "input_channels")
        if all(key in self.metadata for key in keys):
            shape = tuple(self.metadata_int(key) for key in keys)
            if static is not None and static != shape:
                raise InvalidModelError(
                    f"{self.path}: metadata gives image shape {shape} but the "
                    f"'{tensor_name}' tensor is declared {info.shape}. Export it again."
                )
            return shape
        if static is not None:
            return static
        raise InvalidModelError(
            f"{self.path} gives no image shape: its metadata lacks {list(keys)} and "
            f"'{tensor_name}' has no fixed NHWC shape. Export it again with the zoo exporter."
        )

    def run(self, feeds, output_names=None):
        """Run the session.

        Args:
            feeds: input name -> numpy array.
            output_names: outputs to compute. Default: all.

        Returns:
            A dict output name -> numpy array.
        """
        names = list(output_names) if output_names is not None else list(self.outputs)
        values = self.session.run(names, feeds)
        return dict(zip(names, values))


def run_in_batches(model, input_name, array, output_names, batch_size):
    """Run `model` over `array` in chunks along axis 0 and concatenate the outputs.

    Returns:
        A dict output name -> numpy array with `len(array)` rows.
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be at least 1. Received: {batch_size}")
    chunks = {name: [] for name in output_names}
    for start in range(0, len(array), batch_size):
        result = model.run({input_name: array[start : start + batch_size]}, output_names)
        for name in output_names:
            chunks[name].append(result[name])
    return {name: np.concatenate(parts, axis=0) for name, parts in chunks.items()}


def atomic_write_bytes(path, data):
    """Write bytes to `path` atomically: a temp file in the same folder, fsync, os.replace."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
