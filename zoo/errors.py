"""Typed errors of the zoo.

Each error message names what was expected, what was received and what to
do. The classes also subclass the matching built-in error, so callers that
catch `ValueError` or `FileNotFoundError` keep working.
"""


class ZooError(Exception):
    """Base class of every error the zoo raises on purpose."""


class InvalidInputError(ZooError, ValueError):
    """An input array, image or latent has the wrong shape, dtype or values."""


class InvalidConfigError(ZooError, ValueError):
    """A model, phase or recipe argument is invalid."""


class DataNotFoundError(ZooError, FileNotFoundError):
    """A data set was not found in any of the places searched."""


class CorruptFileError(ZooError, ValueError):
    """A file exists but its content is truncated or malformed."""


class MissingDependencyError(ZooError, ImportError):
    """An optional dependency is needed for this feature but not installed."""


def require(module_name, extra):
    """Import an optional module or raise `MissingDependencyError`.

    Args:
        module_name: the module to import, for example `"tf2onnx"`.
        extra: the `beyond-zoo` extra that installs it, for example
            `"tensorflow"`.

    Returns:
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise MissingDependencyError(
            f"This feature needs the module '{module_name}', which is not "
            f"installed ({error}). Install it with: "
            f"pip install 'beyond-zoo[{extra}]'"
        ) from error
