"""Run a recipe by name: make the run folder, train, evaluate.

`train` can run a recipe data-parallel over the local devices and under a
mixed-precision dtype policy. Both are set around the recipe's `train`
function, so recipes build their model and call `fit` as usual:

- JAX: `keras.distribution.DataParallel` over `keras.distribution.list_devices()`;
- TensorFlow: a `tf.distribute.MirroredStrategy` scope;
- PyTorch: not supported in-process. Launch the training script with
  `torchrun` and wrap the model in `DistributedDataParallel` instead.
"""

import contextlib
import importlib
import logging
import platform

from recipes import RECIPES
from recipes.base import CONFIG_FILE, METRICS_FILE, RunFolder
from zoo.errors import InvalidConfigError

logger = logging.getLogger(__name__)

DISTRIBUTIONS = ("data-parallel",)

# --mixed-precision value -> Keras dtype policy: float32 variables, computations
# in the named 16-bit type.
MIXED_PRECISION_POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def get_recipe(name):
    """Return the `Recipe` registered as `name`."""
    if name not in RECIPES:
        raise InvalidConfigError(
            f"Unknown recipe '{name}'. Known recipes: {', '.join(sorted(RECIPES))}. "
            "Run `zoo list` to see them with descriptions."
        )
    module_name, attribute = RECIPES[name][0].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def train(name, overrides=None, out_dir=None, evaluate=True, distribute=None, mixed_precision=None):
    """Train recipe `name` into a new run folder and return the folder.

    Args:
        name: a key of `recipes.RECIPES`.
        overrides: a dict of settings replacing the recipe defaults; string
            values are converted to the default's type.
        out_dir: the run folder; default `runs/<name>/<UTC time>/`.
        evaluate: also compute `metrics.json` after training.
        distribute: None for one device, or "data-parallel" to split each
            batch over all local devices (JAX and TensorFlow). The batch
            size must be a multiple of the number of devices.
        mixed_precision: None for float32, or "bfloat16" / "float16" to
            compute in 16 bits with float32 variables. Under float16 each
            update phase's optimizer gets its own dynamic loss scale.

    Raises:
        InvalidConfigError: an unknown recipe, setting, distribution or
            precision, or data-parallel training under PyTorch.
    """
    # Check the name and settings before importing Keras, which takes seconds.
    recipe = get_recipe(name)
    config = recipe.resolve_config(overrides or {})
    check_scaling(distribute, mixed_precision)

    import keras

    run = RunFolder.create(name, out_dir)
    run.write_json(
        CONFIG_FILE,
        {
            "recipe": name,
            "backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "python_version": platform.python_version(),
            "config": config,
            "distribute": distribute,
            "mixed_precision": mixed_precision,
        },
    )
    logger.info("Training '%s' under the %s backend into %s", name, keras.backend.backend(), run.path)

    try:
        with scaled_training(distribute, mixed_precision):
            recipe.train(run, config)
    except BaseException:
        _remove_if_aborted(run)
        raise
    if evaluate:
        metrics = recipe.evaluate(run)
        run.write_json(METRICS_FILE, metrics)
        logger.info("Wrote %s", run.path / METRICS_FILE)
    return run


def _remove_if_aborted(run):
    """Delete a run folder that contains nothing but its config.json.

    Training that fails before saving a model leaves no result worth
    keeping, and removing the folder lets the same `--out` be used again.
    """
    files = [path.name for path in run.path.rglob("*") if path.is_file()]
    if files == [CONFIG_FILE]:
        (run.path / CONFIG_FILE).unlink()
        for folder in sorted(run.path.rglob("*"), reverse=True):
            folder.rmdir()
        run.path.rmdir()
        logger.info("Training failed before saving a model; removed %s", run.path)


def evaluate(run_dir):
    """Recompute `metrics.json` of an existing run folder and return it."""
    run = RunFolder(run_dir)
    config = run.read_json(CONFIG_FILE)
    recipe = get_recipe(config["recipe"])
    metrics = recipe.evaluate(run)
    run.write_json(METRICS_FILE, metrics)
    return metrics


def check_scaling(distribute, mixed_precision):
    """Reject an unknown distribution or precision before any work is done."""
    import keras

    if distribute is not None and distribute not in DISTRIBUTIONS:
        raise InvalidConfigError(
            f"Unknown distribution {distribute!r}. Expected one of {DISTRIBUTIONS} or none."
        )
    if distribute is not None and keras.backend.backend() == "torch":
        raise InvalidConfigError(
            "--distribute data-parallel runs under the jax and tensorflow backends only. "
            "Under torch, launch the training with `torchrun --nproc-per-node=N` and wrap "
            "the model in torch.nn.parallel.DistributedDataParallel, or pick "
            "--backend jax or --backend tensorflow."
        )
    if mixed_precision is not None and mixed_precision not in MIXED_PRECISION_POLICIES:
        raise InvalidConfigError(
            f"Unknown mixed precision {mixed_precision!r}. Expected one of "
            f"{sorted(MIXED_PRECISION_POLICIES)} or none."
        )


@contextlib.contextmanager
def scaled_training(distribute=None, mixed_precision=None):
    """Set the dtype policy and the distribution for the duration of a block.

    Both are process-wide Keras settings, so the previous values are put back
    when the block exits, also on error.

    Args:
        distribute: None or "data-parallel".
        mixed_precision: None, "bfloat16" or "float16".
    """
    import keras

    check_scaling(distribute, mixed_precision)
    previous_policy = keras.config.dtype_policy()
    if mixed_precision is not None:
        keras.config.set_dtype_policy(MIXED_PRECISION_POLICIES[mixed_precision])
    try:
        with _distribution_scope(distribute):
            yield
    finally:
        keras.config.set_dtype_policy(previous_policy)


@contextlib.contextmanager
def _distribution_scope(distribute):
    import keras

    if distribute is None:
        yield
        return

    backend = keras.backend.backend()
    if backend == "jax":
        devices = keras.distribution.list_devices()
        _warn_single_device(devices)
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        logger.info("Data-parallel training over %d devices: %s", len(devices), ", ".join(devices))
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)
        return

    # TensorFlow: the recipe builds its model and calls fit inside the scope,
    # so variables are mirrored and train_step runs once per replica.
    from zoo.backend.tensorflow import mirrored_strategy

    strategy = mirrored_strategy()
    _warn_single_device(strategy.extended.worker_devices)
    logger.info(
        "Data-parallel training over %d replicas: %s",
        strategy.num_replicas_in_sync, ", ".join(strategy.extended.worker_devices),
    )
    with strategy.scope():
        yield


def _warn_single_device(devices):
    if len(devices) < 2:
        logger.warning(
            "--distribute data-parallel found one device (%s), so training runs as usual.",
            ", ".join(devices),
        )
