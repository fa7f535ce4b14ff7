"""Run a recipe by name: make the run folder, train, evaluate."""

import importlib
import logging
import platform

from recipes import RECIPES
from recipes.base import CONFIG_FILE, METRICS_FILE, RunFolder
from zoo.errors import InvalidConfigError

logger = logging.getLogger(__name__)


def get_recipe(name):
    """Return the `Recipe` registered as `name`."""
    if name not in RECIPES:
        raise InvalidConfigError(
            f"Unknown recipe '{name}'. Known recipes: {', '.join(sorted(RECIPES))}. "
            "Run `zoo list` to see them with descriptions."
        )
    module_name, attribute = RECIPES[name][0].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def train(name, overrides=None, out_dir=None, evaluate=True):
    """Train recipe `name` into a new run folder and return the folder.

    Args:
        name: a key of `recipes.RECIPES`.
        overrides: a dict of settings replacing the recipe defaults; string
            values are converted to the default's type.
        out_dir: the run folder; default `runs/<name>/<UTC time>/`.
        evaluate: also compute `metrics.json` after training.
    """
    import keras

    recipe = get_recipe(name)
    config = recipe.resolve_config(overrides or {})
    run = RunFolder.create(name, out_dir)
    run.write_json(
        CONFIG_FILE,
        {
            "recipe": name,
            "backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "python_version": platform.python_version(),
            "config": config,
        },
    )
    logger.info("Training '%s' under the %s backend into %s", name, keras.backend.backend(), run.path)

    recipe.train(run, config)
    if evaluate:
        metrics = recipe.evaluate(run)
        run.write_json(METRICS_FILE, metrics)
        logger.info("Wrote %s", run.path / METRICS_FILE)
    return run


def evaluate(run_dir):
    """Recompute `metrics.json` of an existing run folder and return it."""
    run = RunFolder(run_dir)
    config = run.read_json(CONFIG_FILE)
    recipe = get_recipe(config["recipe"])
    metrics = recipe.evaluate(run)
    run.write_json(METRICS_FILE, metrics)
    return metrics
