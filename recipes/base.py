"""The recipe protocol and the run folder every recipe writes.

A run folder holds:

- `model.keras`: the whole training model;
- `config.json`: the recipe name, backend, Keras version, the recipe
  configuration and a description of the data;
- `history.json`: the `fit` history;
- `metrics.json`: the evaluation results;
- `pictures/*.png`: sample grids, projections, ROC curves.
"""

import dataclasses
import datetime
import json
import logging
import pathlib
from typing import Callable

from zoo import io
from zoo.errors import InvalidConfigError
from zoo.registry import import_model_modules

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
PICTURES_DIR = "pictures"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named training recipe.

    Attributes:
        name: the name used by `zoo train NAME`.
        description: one line for `zoo list`.
        defaults: the default configuration, a flat dict of JSON values.
        train: `train(run: RunFolder, config: dict) -> None`; fits the
            model, then writes the model, history, metrics and pictures.
        evaluate: `evaluate(run: RunFolder) -> dict`; recomputes
            `metrics.json` from `model.keras`.
    """

    name: str
    description: str
    defaults: dict
    train: Callable
    evaluate: Callable

    def resolve_config(self, overrides):
        """Return the defaults updated with `overrides`, type-checked."""
        config = dict(self.defaults)
        for key, value in overrides.items():
            if key not in config:
                raise InvalidConfigError(
                    f"Recipe '{self.name}' has no setting '{key}'. "
                    f"Known settings: {', '.join(sorted(config))}."
                )
            config[key] = _coerce(key, value, config[key])
        for key in ("epochs", "steps_per_epoch", "batch_size"):
            value = config.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise InvalidConfigError(
                    f"Recipe '{self.name}' needs {key} >= 1. Received: {key}={value}."
                )
        return config


class RunFolder:
    """The folder of one training run, with atomic writers for its files."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    @classmethod
    def create(cls, recipe_name, out_dir=None, root="runs"):
        """Make a new run folder, by default `runs/<recipe>/<UTC time>/`."""
        if out_dir is None:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            out_dir = pathlib.Path(root) / recipe_name / stamp
        path = pathlib.Path(out_dir)
        if path.exists() and any(path.iterdir()):
            raise InvalidConfigError(
                f"The run folder {path} already exists and is not empty. "
                "Pass another --out folder or remove this one."
            )
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def model_path(self):
        return self.path / MODEL_FILE

    @property
    def pictures(self):
        folder = self.path / PICTURES_DIR
        folder.mkdir(exist_ok=True)
        return folder

    def read_json(self, name):
        file = self.path / name
        if not file.is_file():
            raise FileNotFoundError(
                f"The run folder {self.path} has no {name}. Expected a folder "
                "written by `zoo train`."
            )
        return json.loads(file.read_text())

    def write_json(self, name, value):
        io.write_json(self.path / name, value)

    def save_model(self, model):
        with io.atomic_path(self.model_path) as temporary:
            model.save(temporary)

    def load_model(self):
        import keras

        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"The run folder {self.path} has no {MODEL_FILE}. Expected a "
                "folder written by `zoo train`."
            )
        import_model_modules()
        return keras.saving.load_model(self.model_path, safe_mode=True)

    def save_figure(self, figure, name):
        """Write a matplotlib figure as `pictures/<name>.png`."""
        import matplotlib.pyplot as plt

        path = self.pictures / f"{name}.png"
        with io.atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        logger.info("Wrote %s", path)
        return path


def epoch_checkpoint(run):
    """Return a Keras callback that saves the model into the run folder after every epoch.

    The save is atomic, so a run stopped mid-epoch keeps the model of its
    last finished epoch, which `zoo evaluate RUN` and `zoo export RUN` read
    like a finished run's model. The final `save_model` overwrites it.
    """
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            run.save_model(self.model)
            logger.info("Saved the model of epoch %d to %s", epoch + 1, run.model_path)

    return EpochCheckpoint()


def fit_verbosity(default):
    """Return the `verbose` argument of a recipe's `model.fit`: `default`, or 0 when logging hides INFO.

    Keras prints fit's progress bar and per-epoch lines itself, not through
    `logging`, so this makes them follow the level of the `recipes` logger.
    `zoo -q` sets that level to WARNING and so hides them. Where no logging
    handler is configured (a plain Python session that calls a recipe), the
    recipe keeps `default`.

    Args:
        default: the recipe's own choice, 1 for a progress bar or 2 for one
            line per epoch.
    """
    recipes_logger = logging.getLogger("recipes")
    if recipes_logger.hasHandlers() and not recipes_logger.isEnabledFor(logging.INFO):
        return 0
    return default


def _coerce(key, value, default):
    """Convert a `--set key=value` string to the default's type."""
    if not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if default is None or isinstance(default, (list, dict)):
            return json.loads(value)
    except ValueError as error:
        raise InvalidConfigError(
            f"Setting '{key}' expects a value like {default!r}. Received: {value!r}"
        ) from error
    return value
