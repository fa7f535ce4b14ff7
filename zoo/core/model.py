"""`PhaseModel`: a Keras model whose training step is a list of update phases.

Subclasses declare their phases and trackers and contain no backend code.
The backend-specific `train_step` and `test_step` live in `zoo.backend`.
"""

import keras

from zoo import backend as step_backend
from zoo.core.phases import PhaseOptimizer
from zoo.errors import InvalidConfigError

_SEED_KEY_PREFIX = "seed_generator_"


class PhaseModel(keras.Model):
    """Base class of the zoo's training models.

    A subclass:

    1. builds its sub-models in `__init__` and calls
       `self.add_trackers(names)` with the names its phases log;
    2. implements `update_phases()`, returning a list of `UpdatePhase`;
    3. implements `default_optimizers()`, returning a dict from phase name to
       optimizer, used when `compile()` receives no optimizer.

    `fit` then runs every phase in order on each batch, on every backend.
    The `loss` entry of the logs is the sum of the phase losses, which is
    what `TerminateOnNaN` and `EarlyStopping(monitor="loss")` watch.

    `compile(optimizer=...)` takes a dict from phase name to optimizer, a
    `PhaseOptimizer`, or a single optimizer when the model has one phase.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.phase_trackers = []

    def update_phases(self):
        """Return the list of `UpdatePhase` run by each training step."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement update_phases()."
        )

    def default_optimizers(self):
        """Return a dict from phase name to the optimizer used by default."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement default_optimizers()."
        )

    def add_trackers(self, names):
        """Create one `keras.metrics.Mean` per logged value.

        Call this in `__init__`: trackers must exist before training so
        that their variables travel through the JAX trainer state.

        Args:
            names: the names that phase `logs` dicts use.
        """
        known = {tracker.name for tracker in self.phase_trackers}
        for name in names:
            if name in known or name == "loss":
                raise InvalidConfigError(
                    f"Tracker name '{name}' is used twice or clashes with the "
                    "total 'loss' tracker that Keras adds."
                )
            self.phase_trackers.append(keras.metrics.Mean(name=name))
            known.add(name)

    @property
    def metrics(self):
        metrics = []
        if self.compiled and self._loss_tracker is not None:
            metrics.append(self._loss_tracker)
        metrics.extend(self.phase_trackers)
        return metrics

    def compile(self, optimizer=None, auto_scale_loss=True, **kwargs):
        """Configure the model for training.

        Args:
            optimizer: a dict from phase name to optimizer (names or
                instances), a `PhaseOptimizer`, a single optimizer for a
                one-phase model, or `None` for `default_optimizers()`.
            auto_scale_loss: under the `mixed_float16` dtype policy, wrap
                each phase's optimizer in a `LossScaleOptimizer` (see
                `PhaseOptimizer.with_loss_scaling`). Keras's own wrapping of
                the whole `PhaseOptimizer` is always turned off, because the
                phase steps need one loss scale per phase.
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `run_eagerly`, `steps_per_execution`). A `loss` or `metrics`
                argument is rejected because the phases define the losses.
        """
        for argument in ("loss", "metrics", "weighted_metrics", "loss_weights"):
            if kwargs.get(argument) is not None:
                raise InvalidConfigError(
                    f"{type(self).__name__}.compile() got `{argument}`, but "
                    "its losses and logged values come from its update "
                    "phases. Remove the argument."
                )
            kwargs.pop(argument, None)

        optimizer = self._as_phase_optimizer(optimizer)
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16":
            optimizer = optimizer.with_loss_scaling()
        optimizer.assign_phases(self.update_phases())
        super().compile(optimizer=optimizer, auto_scale_loss=False, **kwargs)

        # Build every phase's optimizer now, outside any traced function:
        # TensorFlow would otherwise build them lazily inside `tf.function`.
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _as_phase_optimizer(self, optimizer):
        if isinstance(optimizer, PhaseOptimizer):
            return optimizer
        if optimizer is None:
            return PhaseOptimizer(self.default_optimizers())
        if isinstance(optimizer, dict):
            return PhaseOptimizer(dict(optimizer))
        phases = self.update_phases()
        if len(phases) != 1:
            raise InvalidConfigError(
                f"{type(self).__name__} has the update phases "
                f"{[p.name for p in phases]} and needs one optimizer each. "
                "Received a single optimizer; pass a dict from phase name "
                "to optimizer instead."
            )
        return PhaseOptimizer({phases[0].name: keras.optimizers.get(optimizer)})

    def get_compile_config(self):
        if self.compiled and hasattr(self, "_compile_config"):
            config = self._compile_config.serialize()
            for argument in ("loss", "metrics", "weighted_metrics", "loss_weights"):
                config.pop(argument, None)
            return config
        return None

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    def save_own_variables(self, store):
        # Keras does not save seed generator states, so a reloaded model would
        # replay the noise of the first steps instead of resuming.
        # NOTE: only seed generators held by the model itself are saved, not
        # those inside sublayers such as Dropout.
        super().save_own_variables(store)
        for index, seed_generator in enumerate(self._seed_generators):
            store[f"{_SEED_KEY_PREFIX}{index}"] = keras.ops.convert_to_numpy(seed_generator.state.value)

    def load_own_variables(self, store):
        seeds = {key: store[key] for key in store.keys() if key.startswith(_SEED_KEY_PREFIX)}
        variables = {key: store[key] for key in store.keys() if key not in seeds}
        super().load_own_variables(variables)
        for index, seed_generator in enumerate(self._seed_generators):
            key = f"{_SEED_KEY_PREFIX}{index}"
            if key in seeds:
                seed_generator.state.assign(seeds[key])

    def train_step(self, *args):
        return step_backend.train_step(self, *args)

    def test_step(self, *args):
        return step_backend.test_step(self, *args)
