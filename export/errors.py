"""Errors of the exporters."""

from zoo.errors import ZooError


class ExportValidationError(ZooError, ValueError):
    """An exported artifact's outputs differ from the Keras part's outputs.

    Attributes:
        failures: one dict per output that differed, with the keys
            `artifact`, `part`, `output`, `batch_size`, `max_abs_diff` and
            `tolerance`.
    """

    def __init__(self, failures):
        self.failures = list(failures)
        lines = [
            f"  {f['artifact']}: output '{f['output']}' of part '{f['part']}' at batch size "
            f"{f['batch_size']}: max abs diff {f['max_abs_diff']:.3g} > tolerance {f['tolerance']:.3g}"
            for f in self.failures
        ]
        super().__init__(
            "The exported outputs differ from the Keras outputs on the probe "
            "inputs, so nothing was written:\n" + "\n".join(lines)
        )
