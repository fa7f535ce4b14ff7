"""A small embedder training model and a run folder for the export tests.

The exporters need only a registered `PhaseModel` with
`exportable_parts()`, so the tests build this one instead of a zoo model.
"""

import json
import os

import keras
import numpy as np
from keras import ops

from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart

IMAGE_SHAPE = (12, 10, 1)
# 16 conv filters times 64 embedding dimensions gives the projection kernel
# 1024 weights, the TFLite converter's minimum for int8 weight quantization.
CONV_FILTERS = 16
EMBEDDING_DIM = 64
TRAINING_BATCH = 8


@keras.saving.register_keras_serializable(package="zoo_tests")
class ExportFixtureEmbedder(PhaseModel):
    """Conv + BatchNorm + Dense embedder trained to match fixed targets.

    Args:
        embedding_dim: length of the L2-normalised embedding.
        image_shape: `(height, width, channels)` of the input images.
    """

    def __init__(self, embedding_dim=EMBEDDING_DIM, image_shape=IMAGE_SHAPE, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.image_shape = tuple(image_shape)

        images = keras.Input(shape=self.image_shape, name="images")
        x = keras.layers.Conv2D(CONV_FILTERS, 3, padding="same", name="conv")(images)
        x = keras.layers.BatchNormalization(name="norm")(x)
        x = keras.layers.ReLU(name="relu")(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        x = keras.layers.Dense(embedding_dim, name="projection")(x)
        embeddings = keras.layers.UnitNormalization(name="embeddings")(x)
        self.embedder = keras.Model(images, embeddings, name="embedder")

        self.add_trackers(["embedding_loss"])
        self.built = True

    def update_phases(self):
        return [
            UpdatePhase(
                "embedder",
                self.embedding_loss,
                lambda: self.embedder.trainable_variables,
            )
        ]

    def default_optimizers(self):
        # A large rate, so that one step moves the weights and the
        # BatchNorm moving statistics far from their initial values.
        return {"embedder": keras.optimizers.SGD(0.5)}

    def embedding_loss(self, data, training):
        images, targets = data
        embeddings = self.embedder(images, training=training)
        loss = ops.mean(ops.square(embeddings - targets))
        return loss, {"embedding_loss": loss}

    def exportable_parts(self):
        height, width, channels = self.image_shape
        return {
            "embedder": ExportPart(
                self.embedder,
                "embedder",
                {
                    "input_height": height,
                    "input_width": width,
                    "input_channels": channels,
                    "embedding_dim": self.embedding_dim,
                },
            )
        }

    def get_config(self):
        config = super().get_config()
        config.update(embedding_dim=self.embedding_dim, image_shape=list(self.image_shape))
        return config


def make_run_folder(run_dir):
    """Train `ExportFixtureEmbedder` one step and write `model.keras` and `config.json`.

    Args:
        run_dir: the folder to create, a `pathlib.Path`.

    Returns:
        `run_dir`.
    """
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(TRAINING_BATCH, *IMAGE_SHAPE)).astype("float32")
    targets = rng.normal(size=(TRAINING_BATCH, EMBEDDING_DIM)).astype("float32")

    model = ExportFixtureEmbedder()
    model.compile()
    model.fit(images, targets, batch_size=TRAINING_BATCH, epochs=1, verbose=0)

    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model.keras")
    config = {
        "recipe": "export_fixture",
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "config": {"embedding_dim": EMBEDDING_DIM},
        "data": {"name": "uniform-noise"},
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + os.linesep)
    return run_dir
