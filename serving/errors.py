"""Typed errors of the serving layer.

`serving` must not import `zoo`, so it keeps its own small error classes.
They mirror the names in `zoo.errors` and subclass the matching built-in
error, so callers that catch `ValueError`, `FileNotFoundError` or
`ImportError` keep working.
"""


class ServingError(Exception):
    """Base class of every error the serving layer raises on purpose."""


class InvalidInputError(ServingError, ValueError):
    """An image, batch, latent or embedding has the wrong shape, dtype or values."""


class ModelNotFoundError(ServingError, FileNotFoundError):
    """An ONNX model or gallery file does not exist."""


class CorruptFileError(ServingError, ValueError):
    """A file exists but is truncated, malformed or of another format."""


class InvalidModelError(ServingError, ValueError):
    """An ONNX model lacks the task, inputs, outputs or metadata a wrapper needs."""


class GalleryError(ServingError, ValueError):
    """A gallery operation was rejected (duplicate or unknown person, failed write)."""


class GalleryMismatchError(GalleryError):
    """A gallery was built with another model (embedding size or model hash)."""


class MissingDependencyError(ServingError, ImportError):
    """An optional dependency is needed for this feature but not installed."""
