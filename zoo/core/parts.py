"""`ExportPart`: a piece of a training model that ships on its own.

A training model (triplet, VAE, GAN, ...) is not what users run: they run
its embedder, encoder, decoder or generator. Each training model lists
those in `exportable_parts()`, and the exporters and the serving layer
rely on the conventions below.

Conventions for every part:
- a functional `keras.Model` whose input and output layers carry the
  names that become ONNX input and output names (`images`, `embeddings`,
  `z`, `z_mean`, `z_log_var`, `logits`, ...);
- images are float32, NHWC, with values in [0, 1], on the input side and
  on the output side (a generator ending in tanh rescales inside the part);
- `metadata` values are strings and become ONNX `metadata_props`.
"""

import dataclasses

import keras

TASKS = ("embedder", "encoder", "decoder", "generator", "translator", "classifier")


@dataclasses.dataclass
class ExportPart:
    """One exportable model and what the serving layer needs to run it.

    Attributes:
        model: a functional `keras.Model` with named inputs and outputs.
        task: one of `TASKS`.
        metadata: string key-value pairs, for example `input_height`,
            `input_width`, `input_channels`, `embedding_dim`, `latent_dim`.
        parity_tolerance: the largest absolute difference allowed between
            the exported float32 outputs and Keras's, or None for the
            exporter's default of 1e-5.
    """

    model: keras.Model
    task: str
    metadata: dict = dataclasses.field(default_factory=dict)
    parity_tolerance: float = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(
                f"ExportPart task must be one of {TASKS}. Received: {self.task!r}"
            )
        self.metadata = {key: str(value) for key, value in self.metadata.items()}
