"""The one place where training differs per backend.

`train_step` and `test_step` run a `PhaseModel`'s update phases with the
gradient machinery of the active Keras backend: `tensorflow.py` uses
`tf.GradientTape`, `jax.py` threads the stateless trainer state through
`jax.value_and_grad`, `torch.py` uses autograd. Everything else in the zoo
uses `keras.ops` only. The helpers below are shared by the three modules.
"""

import importlib

import keras

from zoo.errors import InvalidInputError

_STEP_MODULES = {
    "tensorflow": "zoo.backend.tensorflow",
    "jax": "zoo.backend.jax",
    "torch": "zoo.backend.torch",
}


def _step_module():
    name = keras.backend.backend()
    if name not in _STEP_MODULES:
        raise NotImplementedError(
            f"The zoo trains under {sorted(_STEP_MODULES)}; the active Keras "
            f"backend is '{name}'. Set KERAS_BACKEND to one of those."
        )
    return importlib.import_module(_STEP_MODULES[name])


def train_step(model, *args):
    return _step_module().train_step(model, *args)


def test_step(model, *args):
    return _step_module().test_step(model, *args)


def input_gradients(function, inputs):
    """Return the gradient of `sum(function(inputs))` with respect to `inputs`.

    The result stays differentiable with respect to the variables that
    `function` reads, so a phase loss may include it: the R1 penalty
    (Mescheder et al., 2018) and the WGAN-GP penalty (Gulrajani et al.,
    2017) are norms of the discriminator's input gradients.

    Args:
        function: maps a batch tensor to a tensor, for example the
            discriminator's logits of shape `(batch, 1)`.
        inputs: the batch tensor, for example real images `(batch, H, W, C)`.

    Returns:
        A tensor shaped like `inputs`.

    Note:
        Under PyTorch, compile such a model with `jit_compile=False` (the
        default there): `torch.compile` does not support double backward.
    """
    return _step_module().input_gradients(function, inputs)


def list_devices():
    """Return the names of the devices the active backend computes on."""
    return _step_module().list_devices()


def batch_slices(data, repeats):
    """Cut a batch into `repeats` equal slices along axis 0.

    Returns a list of `repeats` structures shaped like `data`. The rows
    past `repeats * (batch_size // repeats)` are dropped.
    """
    if repeats == 1:
        return [data]

    first = keras.tree.flatten(data)[0]
    batch_size = first.shape[0]
    if isinstance(batch_size, int) and batch_size < repeats:
        raise InvalidInputError(
            f"An update phase with repeats={repeats} needs a batch of at "
            f"least {repeats} rows, one slice per update. Received a batch "
            f"of {batch_size}. Raise the batch size or use drop_remainder."
        )
    if batch_size is None:
        batch_size = keras.ops.shape(first)[0]
    slice_size = batch_size // repeats

    slices = []
    for index in range(repeats):
        start = index * slice_size
        stop = start + slice_size
        slices.append(keras.tree.map_structure(lambda t: t[start:stop], data))
    return slices


def update_trackers(model, phase_logs, total_loss):
    """Average this step's values into the model's trackers, return logs."""
    trackers = {tracker.name: tracker for tracker in model.phase_trackers}
    for name, value in phase_logs.items():
        if name not in trackers:
            raise KeyError(
                f"An update phase of {type(model).__name__} logged '{name}', "
                f"which is not a declared tracker {sorted(trackers)}. "
                "Declare it with add_trackers() in __init__."
            )
        trackers[name].update_state(value)
    if model._loss_tracker is not None and total_loss is not None:
        model._loss_tracker.update_state(total_loss)
    return {metric.name: metric.result() for metric in model.metrics}


def scale_loss(optimizer, loss):
    """Return a phase loss in float32, multiplied by its optimizer's loss scale.

    Under `mixed_float16` the optimizer is a `LossScaleOptimizer`, whose
    `apply` divides the gradients by the same dynamic scale. The product is
    taken in float32 because a float16 loss of 2 times the initial scale
    2**15 already exceeds float16's maximum of 65504. Other optimizers
    return the loss unchanged.
    """
    return optimizer.scale_loss(keras.ops.cast(loss, "float32"))


def check_loss(phase, loss):
    """Reject a loss that is not a scalar, naming the phase."""
    shape = tuple(getattr(loss, "shape", ()))
    if shape not in ((), (1,)):
        raise InvalidInputError(
            f"The loss of update phase '{phase.name}' must be a scalar. "
            f"Received a tensor of shape {shape}; reduce it with "
            "keras.ops.mean or keras.ops.sum."
        )
