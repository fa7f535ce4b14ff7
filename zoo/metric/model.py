"""`TripletModel`: trains an embedder with the triplet loss."""

import math

import keras
from keras import ops

from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError
from zoo.metric.losses import MINING_STRATEGIES, triplet_loss

TRACKERS = ("active_triplets", "ap_distance", "an_distance", "embedding_spread")


@keras.saving.register_keras_serializable(package="zoo")
class TripletModel(PhaseModel):
    """A training model with one update phase, "embedder", on the triplet loss.

    `fit` takes batches `(images, labels)`: images float32 of shape
    (B, H, W, C) in [0, 1], labels integers of shape (B,), with several
    images per label in each batch (a P x K batch).

    Logged values: `loss`, `active_triplets` (the fraction of mined
    triplets with a positive loss), `ap_distance` and `an_distance` (mean
    Euclidean anchor-positive and anchor-negative distances), and
    `embedding_spread`, the mean per-dimension standard deviation of the
    embeddings times sqrt(D): about 1 for unit vectors spread over the
    sphere, near 0 when the embeddings collapse to one point.

    Args:
        embedder: a functional model `images` -> `embeddings` (see
            `build_embedder`).
        margin: the triplet margin on squared distances, > 0.
        mining: one of "batch_all", "batch_hard", "semi_hard".
        learning_rate: the Adam learning rate of the default optimizer.
        thresholds: a dict of calibrated distance thresholds, for example
            `{"far_1e-2": 0.9}`, or None. It travels in the `.keras` file.
    """

    def __init__(
        self,
        embedder,
        margin=0.2,
        mining="semi_hard",
        learning_rate=1e-3,
        thresholds=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mining not in MINING_STRATEGIES:
            raise InvalidConfigError(
                f"Unknown triplet mining '{mining}'. Expected one of {MINING_STRATEGIES}."
            )
        if not margin > 0:
            raise InvalidConfigError(f"The triplet margin must be > 0. Received: margin={margin!r}")
        if not isinstance(embedder, keras.Model):
            raise InvalidConfigError(
                "TripletModel expects a keras.Model embedder (see build_embedder). "
                f"Received: {type(embedder).__name__}"
            )

        self.embedder = embedder
        self.margin = float(margin)
        self.mining = mining
        self.learning_rate = float(learning_rate)
        self.thresholds = dict(thresholds or {})
        self.add_trackers(TRACKERS)
        self.built = True

    def call(self, images, training=False):
        return self.embedder(images, training=training)

    def update_phases(self):
        return [
            UpdatePhase(
                "embedder",
                self.embedder_loss,
                lambda: self.embedder.trainable_variables,
            )
        ]

    def default_optimizers(self):
        return {"embedder": keras.optimizers.Adam(self.learning_rate)}

    def embedder_loss(self, data, training):
        images, labels = data
        embeddings = self.embedder(images, training=training)
        loss, stats = triplet_loss(labels, embeddings, margin=self.margin, mining=self.mining)

        dimension = ops.shape(embeddings)[-1]
        spread = ops.mean(ops.std(ops.stop_gradient(embeddings), axis=0))
        stats["embedding_spread"] = spread * math.sqrt(dimension)
        return loss, stats

    def exportable_parts(self):
        """Return the embedder and the metadata serving needs."""
        height, width, channels = self.embedder.input_shape[1:]
        metadata = {
            "input_height": height,
            "input_width": width,
            "input_channels": channels,
            "embedding_dim": self.embedder.output_shape[-1],
        }
        for key, value in self.thresholds.items():
            metadata[f"threshold_{key}"] = value
        return {"embedder": ExportPart(self.embedder, "embedder", metadata)}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedder": keras.saving.serialize_keras_object(self.embedder),
                "margin": self.margin,
                "mining": self.mining,
                "learning_rate": self.learning_rate,
                "thresholds": self.thresholds,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["embedder"] = keras.saving.deserialize_keras_object(
            config["embedder"], custom_objects=custom_objects
        )
        return cls(**config)
