"""Export trained zoo models to ONNX, TensorFlow SavedModel and TFLite.

`export_run` reads a run folder, converts every exportable part in a
TensorFlow subprocess and checks each artifact against the Keras part
before writing it. `export.triton` lays out a Triton model repository for
an exported ONNX part. `export.cards` writes model cards.

The names below load on first use, so that `export.cards` works without
importing Keras.
"""

import importlib

_LAZY = {
    "FORMATS": "export.api",
    "QUANTIZATIONS": "export.api",
    "export_run": "export.api",
    "ExportValidationError": "export.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'export' has no attribute '{name}'")
    return getattr(importlib.import_module(_LAZY[name]), name)
