"""A small CNN image classifier whose penultimate layer gives domain features.

The GAN metrics (FID, KID, class coverage) of Fashion-MNIST samples are
computed on this classifier's `features` and predicted classes, in place of
the Inception network that the metrics use on natural images.
"""

import keras
from keras import ops

from zoo.core import PhaseModel, UpdatePhase
from zoo.core.parts import ExportPart
from zoo.errors import InvalidConfigError


def cnn_classifier(image_shape, num_classes, filters=32, feature_dim=128, dropout=0.3, convs_per_block=1):
    """Build the classifier network.

    Two blocks of `convs_per_block` 3x3 convolutions with BatchNorm and ReLU
    and a 2x2 max pooling, then a dense `features` layer and a dense
    `logits` layer.

    Args:
        image_shape: `(height, width, channels)` of images in [0, 1].
        num_classes: the number of classes.
        filters: channels of the first block; the second has twice as many.
        feature_dim: length of the `features` vector.
        dropout: dropout rate before each dense layer.
        convs_per_block: convolutions in each of the two blocks.

    Returns:
        A functional model `images (N, H, W, C) -> [logits (N, num_classes),
        features (N, feature_dim)]`.
    """
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = images
    for block, block_filters in enumerate((filters, filters * 2)):
        for index in range(convs_per_block):
            x = keras.layers.Conv2D(
                block_filters, 3, padding="same", use_bias=False,
                name=f"conv_{block}_{index}",
            )(x)
            x = keras.layers.BatchNormalization(name=f"conv_{block}_{index}_norm")(x)
            x = keras.layers.ReLU(name=f"conv_{block}_{index}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{block}")(x)

    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="flatten_dropout")(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = keras.layers.Dropout(dropout, name="features_dropout")(features)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(images, [logits, features], name="classifier")


@keras.saving.register_keras_serializable(package="zoo")
class Classifier(PhaseModel):
    """A one-phase training model around `cnn_classifier`.

    Trains with sparse softmax cross-entropy on batches `(images, labels)`,
    images float32 (N, H, W, C) in [0, 1] and labels int in [0, num_classes).
    Trackers: `classification_loss` and `accuracy`.

    Args:
        image_shape: `(height, width, channels)` of the images.
        num_classes: the number of classes.
        filters: channels of the first convolution block.
        feature_dim: length of the `features` vector.
        dropout: dropout rate before each dense layer.
        learning_rate: Adam learning rate of the default optimizer.
        class_names: the class names, stored so the model can name its
            predictions.
        convs_per_block: convolutions in each of the two blocks.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=10,
        filters=32,
        feature_dim=128,
        dropout=0.3,
        learning_rate=1e-3,
        class_names=None,
        convs_per_block=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if class_names is not None and len(class_names) != num_classes:
            raise InvalidConfigError(
                f"class_names must have num_classes={num_classes} entries. "
                f"Received {len(class_names)} names."
            )
        self.image_shape = tuple(image_shape)
        self.num_classes = int(num_classes)
        self.filters = int(filters)
        self.feature_dim = int(feature_dim)
        self.dropout = float(dropout)
        self.learning_rate = float(learning_rate)
        self.class_names = list(class_names) if class_names is not None else None
        self.convs_per_block = int(convs_per_block)

        self.classifier = cnn_classifier(
            self.image_shape,
            self.num_classes,
            self.filters,
            self.feature_dim,
            self.dropout,
            self.convs_per_block,
        )
        self.add_trackers(["classification_loss", "accuracy"])
        self.built = True

    def update_phases(self):
        return [
            UpdatePhase(
                "classifier",
                self.classification_loss,
                lambda: self.classifier.trainable_variables,
            )
        ]

    def default_optimizers(self):
        return {"classifier": keras.optimizers.Adam(self.learning_rate)}

    def classification_loss(self, data, training):
        images, labels = data[0], data[1]
        logits, _ = self.classifier(images, training=training)
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        loss = ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )
        predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
        accuracy = ops.mean(ops.cast(ops.equal(predicted, labels), "float32"))
        return loss, {"classification_loss": loss, "accuracy": accuracy}

    def predict_logits_and_features(self, images, batch_size=512):
        """Return `(logits, features)` as NumPy arrays, in inference mode."""
        logits, features = self.classifier.predict(images, batch_size=batch_size, verbose=0)
        return logits, features

    def exportable_parts(self):
        height, width, channels = self.image_shape
        metadata = {
            "input_height": height,
            "input_width": width,
            "input_channels": channels,
            "embedding_dim": self.feature_dim,
            "num_classes": self.num_classes,
            "model_name": type(self).__name__,
        }
        if self.class_names is not None:
            metadata["class_names"] = ",".join(self.class_names)
        return {"classifier": ExportPart(self.classifier, "classifier", metadata)}

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            num_classes=self.num_classes,
            filters=self.filters,
            feature_dim=self.feature_dim,
            dropout=self.dropout,
            learning_rate=self.learning_rate,
            class_names=self.class_names,
            convs_per_block=self.convs_per_block,
        )
        return config
