"""Triplet-loss recipes: face embeddings on ORL, retrieval on Fashion-MNIST.

`triplet-faces` trains on people s1-s30 of the ORL faces and evaluates on
s31-s40, whom training never sees. `triplet-fashion` trains on the
Fashion-MNIST training images of classes 0-4 and evaluates retrieval on
the test images of classes 5-9.
"""

import logging

import numpy as np

from recipes.base import CONFIG_FILE, HISTORY_FILE, Recipe
from recipes.triplet_evaluation import evaluate_faces, evaluate_fashion
from zoo.errors import InvalidConfigError

logger = logging.getLogger(__name__)

# TODO: these defaults reach AUC 0.955, rank-1 0.69 and TAR 0.64 at FAR 1e-2
# on s31-s40 (JAX, 2 CPU cores), short of the release goal of 0.99, 0.98, 0.90.
FACES_DEFAULTS = {
    "data_dir": "",
    "epochs": 14,
    "steps_per_epoch": 20,
    "p": 10,
    "k": 5,
    "margin": 0.2,
    "mining": "batch_all",
    "embedding_dim": 64,
    "widths": [32, 64, 128],
    "pooling": "average",
    "dropout": 0.2,
    "working_height": 28,
    "working_width": 23,
    "learning_rate": 2e-3,
    "max_shift": 8,
    "flip_probability": 0.5,
    "brightness": 0.1,
    "contrast": 0.2,
    "gallery": "mean",
    "seed": 0,
}

# TODO: these defaults reach Recall@1 0.88 on classes 5-9, below PCA-64 (0.92)
# and the release goal of 0.95.
FASHION_DEFAULTS = {
    "data_dir": "",
    "epochs": 5,
    "steps_per_epoch": 40,
    "p": 5,
    "k": 16,
    "margin": 0.2,
    "mining": "batch_all",
    "embedding_dim": 64,
    "widths": [32, 64, 128],
    "pooling": "average",
    "dropout": 0.0,
    "learning_rate": 2e-3,
    "max_shift": 2,
    "flip_probability": 0.5,
    "brightness": 0.0,
    "contrast": 0.0,
    "train_classes": [0, 1, 2, 3, 4],
    "test_classes": [5, 6, 7, 8, 9],
    "seed": 0,
}


def train_faces(run, config):
    """Train the face embedder on ORL people s1-s30 and save the run.

    Args:
        run: the `RunFolder` to write into.
        config: a resolved `FACES_DEFAULTS`-shaped dict.
    """
    from recipes.data import load_orl, split_orl_identities

    faces = load_orl(config["data_dir"] or None)
    split = split_orl_identities(faces)
    working_size = (config["working_height"], config["working_width"])
    data = {
        "source": faces.source,
        "train": _describe(split["train"]),
        "held_out": _describe(split["held_out"]),
        "image_shape": list(faces.images.shape[1:]),
        "working_size": list(working_size),
    }
    _fit(run, config, split["train"], working_size, data)


def train_fashion(run, config):
    """Train the Fashion-MNIST embedder on the training images of `train_classes`."""
    from recipes.data import load_fashion_mnist, select

    train_classes, test_classes = config["train_classes"], config["test_classes"]
    if set(train_classes) & set(test_classes):
        raise InvalidConfigError(
            "triplet-fashion evaluates on classes never seen in training, so "
            f"train_classes and test_classes must not overlap. Received {train_classes} "
            f"and {test_classes}."
        )
    images = load_fashion_mnist(config["data_dir"] or None, split="train")
    train = select(images, np.isin(images.labels, train_classes))
    data = {
        "source": images.source,
        "train": _describe(train),
        "image_shape": list(images.images.shape[1:]),
    }
    _fit(run, config, train, None, data)


def _fit(run, config, train, working_size, data):
    """Build the triplet model, fit it on P x K batches and save the run."""
    import keras

    from recipes.data import AugmentConfig, PKSampler
    from zoo.metric.embedder import build_embedder
    from zoo.metric.model import TripletModel

    keras.utils.set_random_seed(config["seed"])
    run_config = run.read_json(CONFIG_FILE)
    run_config["data"] = data
    run.write_json(CONFIG_FILE, run_config)

    augment = AugmentConfig(
        max_shift=config["max_shift"],
        flip_probability=config["flip_probability"],
        brightness=config["brightness"],
        contrast=config["contrast"],
    )
    batches = PKSampler(
        train, config["p"], config["k"], config["steps_per_epoch"], augment=augment, seed=config["seed"]
    )
    embedder = build_embedder(
        input_shape=train.images.shape[1:],
        embedding_dim=config["embedding_dim"],
        widths=config["widths"],
        working_size=working_size,
        dropout=config["dropout"],
        pooling=config["pooling"],
    )
    model = TripletModel(
        embedder,
        margin=config["margin"],
        mining=config["mining"],
        learning_rate=config["learning_rate"],
    )
    total_steps = config["epochs"] * config["steps_per_epoch"]
    schedule = keras.optimizers.schedules.CosineDecay(config["learning_rate"], total_steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule))

    logger.info(
        "Training on %d images of %d classes, batches of %d x %d, %d steps; backend %s on %s; "
        "writing to %s",
        len(train), len(np.unique(train.labels)), config["p"], config["k"], total_steps,
        keras.backend.backend(), _devices(), run.path,
    )
    history = model.fit(batches, epochs=config["epochs"], verbose=1)

    run.save_model(model)
    run.write_json(HISTORY_FILE, history.history)
    run.save_figure(_history_figure(history.history), "training_curves")


def _describe(images):
    return {"images": len(images), "classes": int(len(np.unique(images.labels)))}


def _devices():
    import keras

    try:
        return ", ".join(keras.distribution.list_devices())
    except (AttributeError, RuntimeError, ValueError, NotImplementedError) as error:
        # Keras 3.15 has no distribution support under torch.
        logger.debug("Could not list devices: %s", error)
        return keras.backend.backend() + " default device"


def _history_figure(history):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in ("loss", "active_triplets", "ap_distance", "an_distance", "embedding_spread")
             if name in history]
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3))
    for axis, name in zip(np.atleast_1d(axes), names):
        axis.plot(np.arange(1, len(history[name]) + 1), history[name])
        axis.set_title(name)
        axis.set_xlabel("epoch")
    figure.tight_layout()
    return figure


TRIPLET_FACES = Recipe(
    name="triplet-faces",
    description="Face embeddings with the triplet loss on ORL (train s1-s30, evaluate on unseen s31-s40).",
    defaults=FACES_DEFAULTS,
    train=train_faces,
    evaluate=evaluate_faces,
)

TRIPLET_FASHION = Recipe(
    name="triplet-fashion",
    description="Fashion-MNIST retrieval embeddings with the triplet loss (train classes 0-4, test 5-9).",
    defaults=FASHION_DEFAULTS,
    train=train_fashion,
    evaluate=evaluate_fashion,
)
