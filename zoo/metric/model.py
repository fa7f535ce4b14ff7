"""`TripletModel`: trains an embedder with the triplet loss."""

import math

import keras
from keras import ops

from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError
from zoo.metric.losses import MINING_STRATEGIES, cosface_loss, triplet_loss

TRACKERS = ("active_triplets", "ap_distance", "an_distance", "embedding_spread")
CLASSIFICATION_TRACKERS = ("triplet_loss", "classification_loss", "class_accuracy")


def check_loss_weights(triplet_weight, classification_weight, classification_scale, classification_margin):
    """Raise `InvalidConfigError` unless these settings give a loss that trains the embedder.

    Both weights must be finite and >= 0, and not both 0. A
    `classification_weight` of 0 turns the CosFace head off, so its scale
    and margin are then not checked. The messages use these argument
    names, which the triplet recipes also use as setting names.
    """
    for name, value in (("triplet_weight", triplet_weight), ("classification_weight", classification_weight)):
        if not (math.isfinite(value) and value >= 0):
            raise InvalidConfigError(
                f"{name} must be a finite number >= 0. Received: {name}={value!r}. "
                "Pass a value >= 0, or 0 to turn this loss off."
            )
    if triplet_weight == 0 and classification_weight == 0:
        raise InvalidConfigError(
            "triplet_weight and classification_weight are both 0, so no loss would train the "
            "embedder. Received: triplet_weight=0, classification_weight=0. Set either above 0."
        )

    if classification_weight == 0:
        return
    if not (math.isfinite(classification_scale) and classification_scale > 0):
        raise InvalidConfigError(
            "classification_scale must be a finite number > 0. Received: "
            f"classification_scale={classification_scale!r}. Use 30, the usual CosFace scale."
        )
    if not (math.isfinite(classification_margin) and classification_margin >= 0):
        raise InvalidConfigError(
            "classification_margin must be a finite number >= 0. Received: "
            f"classification_margin={classification_margin!r}. Use 0.2, the triplet recipes' default."
        )


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
    sphere, near 0 when the embeddings collapse to one point. With the
    CosFace head (`num_classes` > 0), `loss` is the weighted sum, and
    `triplet_loss`, `classification_loss` and `class_accuracy` (see
    `cosface_loss`) are logged too.

    Args:
        embedder: a functional model `images` -> `embeddings` (see
            `build_embedder`).
        margin: the triplet margin on squared distances, > 0.
        mining: one of "batch_all", "batch_hard", "semi_hard".
        learning_rate: the Adam learning rate of the default optimizer.
        thresholds: a dict of calibrated distance thresholds, for example
            `{"far_1e-2": 0.9}`, or None. It travels in the `.keras` file.
        num_classes: the number of training classes for the CosFace
            head, or 0 for the triplet loss alone.
        triplet_weight: the weight of the triplet loss, >= 0; 0 (CosFace
            alone) needs `num_classes` > 0.
        classification_weight: the weight of the CosFace loss, > 0.
        classification_scale: the CosFace scale s, > 0.
        classification_margin: the CosFace cosine margin m, >= 0.
    """

    def __init__(
        self,
        embedder,
        margin=0.2,
        mining="semi_hard",
        learning_rate=1e-3,
        thresholds=None,
        num_classes=0,
        triplet_weight=1.0,
        classification_weight=1.0,
        classification_scale=30.0,
        classification_margin=0.2,
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
        if not (float(num_classes).is_integer() and (num_classes == 0 or num_classes >= 2)):
            raise InvalidConfigError(
                "num_classes must be 0 (no classification head) or an integer >= 2. "
                f"Received: num_classes={num_classes!r}. Pass the number of training classes, or 0."
            )
        if not num_classes and triplet_weight == 0:
            raise InvalidConfigError(
                "triplet_weight is 0 and there is no classification head, so no loss would train "
                "the embedder. Received: triplet_weight=0, num_classes=0. Raise triplet_weight, "
                "or set num_classes to the number of training classes."
            )
        if num_classes and classification_weight == 0:
            raise InvalidConfigError(
                f"num_classes={num_classes!r} adds a CosFace head, but its weight is 0. Received: "
                "classification_weight=0. Pass a weight > 0, or num_classes=0 for no head."
            )
        head_weight = classification_weight if num_classes else 0.0
        check_loss_weights(triplet_weight, head_weight, classification_scale, classification_margin)

        self.embedder = embedder
        self.margin = float(margin)
        self.mining = mining
        self.learning_rate = float(learning_rate)
        self.thresholds = dict(thresholds or {})
        self.num_classes = int(num_classes)
        self.triplet_weight = float(triplet_weight)
        self.classification_weight = float(classification_weight)
        self.classification_scale = float(classification_scale)
        self.classification_margin = float(classification_margin)
        self.add_trackers(TRACKERS)

        self.class_centres = None
        if self.num_classes:
            self.class_centres = self.add_weight(
                shape=(self.num_classes, embedder.output_shape[-1]),
                initializer="glorot_normal",
                name="class_centres",
            )
            self.add_trackers(CLASSIFICATION_TRACKERS)
        self.built = True

    def call(self, images, training=False):
        return self.embedder(images, training=training)

    def update_phases(self):
        return [
            UpdatePhase(
                "embedder",
                self.embedder_loss,
                self._trained_variables,
            )
        ]

    def _trained_variables(self):
        variables = list(self.embedder.trainable_variables)
        if self.class_centres is not None:
            variables.append(self.class_centres)
        return variables

    def default_optimizers(self):
        return {"embedder": keras.optimizers.Adam(self.learning_rate)}

    def embedder_loss(self, data, training):
        images, labels = data
        embeddings = self.embedder(images, training=training)
        loss, stats = triplet_loss(labels, embeddings, margin=self.margin, mining=self.mining)

        dimension = ops.shape(embeddings)[-1]
        spread = ops.mean(ops.std(ops.stop_gradient(embeddings), axis=0))
        stats["embedding_spread"] = spread * math.sqrt(dimension)
        if self.class_centres is None:
            return self.triplet_weight * loss, stats

        classification, class_stats = cosface_loss(
            labels,
            embeddings,
            self.class_centres,
            scale=self.classification_scale,
            margin=self.classification_margin,
        )
        stats.update(class_stats)
        stats["triplet_loss"] = loss
        stats["classification_loss"] = classification
        total = self.triplet_weight * loss + self.classification_weight * classification
        return total, stats

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
                "num_classes": self.num_classes,
                "triplet_weight": self.triplet_weight,
                "classification_weight": self.classification_weight,
                "classification_scale": self.classification_scale,
                "classification_margin": self.classification_margin,
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
