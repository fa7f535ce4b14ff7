"""Recipe `classifier-fashion`: the Fashion-MNIST classifier behind the GAN metrics.

Its `features` (penultimate layer) are the feature space of FID and KID, and
its predicted classes give the class coverage of generated samples.
"""

import logging

import numpy as np

from recipes.base import CONFIG_FILE, Recipe, fit_verbosity

logger = logging.getLogger(__name__)

# The released feature space (test accuracy 0.922) was trained with these
# settings; one convolution per block for 10 epochs stopped at 0.908.
DEFAULTS = {
    "epochs": 14,
    "batch_size": 128,
    "filters": 32,
    "convs_per_block": 2,
    "feature_dim": 128,
    "dropout": 0.3,
    "learning_rate": 1e-3,
    # 0 uses the whole split; a positive value keeps the first N images.
    "train_limit": 0,
    "test_limit": 0,
    "seed": 0,
    # "" searches the default places (see recipes.data.locate).
    "data_path": "",
}


def load_split(config, split):
    """Load a Fashion-MNIST split, cut to `<split>_limit` images when positive."""
    from recipes.data import load_fashion_mnist

    data = load_fashion_mnist(config["data_path"] or None, split=split)
    limit = config[f"{split}_limit"]
    if limit > 0:
        return data.images[:limit], data.labels[:limit], data
    return data.images, data.labels, data


def record_data(run, description):
    """Add the `data` entry to the run's `config.json`."""
    record = run.read_json(CONFIG_FILE)
    record["data"] = description
    run.write_json(CONFIG_FILE, record)


def train(run, config):
    import keras

    from zoo.classifier import Classifier

    keras.utils.set_random_seed(config["seed"])
    images, labels, data = load_split(config, "train")
    record_data(
        run,
        {"name": "fashion-mnist", "source": data.source, "train_images": len(images)},
    )

    model = Classifier(
        image_shape=images.shape[1:],
        num_classes=data.num_classes,
        filters=config["filters"],
        feature_dim=config["feature_dim"],
        dropout=config["dropout"],
        learning_rate=config["learning_rate"],
        class_names=data.names,
        convs_per_block=config["convs_per_block"],
    )
    model.compile()
    history = model.fit(
        images,
        labels,
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        shuffle=True,
        verbose=fit_verbosity(2),
    )
    run.write_json("history.json", history.history)
    run.save_model(model)


def evaluate(run):
    """Return the test accuracy, loss and per-class accuracy; draw the confusion matrix."""
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    images, labels, data = load_split(config, "test")

    logits, _ = model.predict_logits_and_features(images)
    predicted = logits.argmax(axis=1)
    log_probabilities = logits - _logsumexp(logits)
    test_loss = float(-np.mean(log_probabilities[np.arange(len(labels)), labels]))

    confusion = np.zeros((data.num_classes, data.num_classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    _draw_confusion(run, confusion, data.names)

    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_loss": test_loss,
        "test_images": len(labels),
        "per_class_accuracy": dict(zip(data.names, per_class.tolist())),
    }


def _logsumexp(logits):
    peak = logits.max(axis=1, keepdims=True)
    return peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))


def _draw_confusion(run, confusion, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 6))
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    for (row, column), count in np.ndenumerate(confusion):
        axes.text(column, row, str(count), ha="center", va="center", fontsize=7)
    axes.set_title("Fashion-MNIST test confusion matrix")
    run.save_figure(figure, "confusion_matrix")


RECIPE = Recipe(
    name="classifier-fashion",
    description="Fashion-MNIST CNN classifier whose features score the GAN samples.",
    defaults=DEFAULTS,
    train=train,
    evaluate=evaluate,
)
