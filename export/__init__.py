"""Export trained zoo models to ONNX, TensorFlow SavedModel and TFLite.

`export_run` reads a run folder, converts every exportable part in a
TensorFlow subprocess and checks each artifact against the Keras part
before writing it. `export.triton` lays out a Triton model repository for
an exported ONNX part.
"""

from export.api import FORMATS, QUANTIZATIONS, export_run
from export.errors import ExportValidationError

__all__ = ["FORMATS", "QUANTIZATIONS", "ExportValidationError", "export_run"]
