"""Update phases and the optimizer container that carries one optimizer each.

A training step of a zoo model is a list of update phases. A phase names
the variables it updates, the optimizer that updates them, a loss written
with `keras.ops` only, and how many times it runs per step. A GAN has a
discriminator phase that runs k times, each on its own slice of the batch,
and a generator phase that runs once; a triplet model has one phase.
"""

import dataclasses
from typing import Callable

import keras

from zoo.errors import InvalidConfigError


@dataclasses.dataclass(frozen=True)
class UpdatePhase:
    """One gradient update inside a training step.

    Attributes:
        name: the phase name, for example `"discriminator"`. It is also the
            key of the phase's optimizer in `PhaseOptimizer.optimizers`.
        loss_fn: `loss_fn(data, training) -> (loss, logs)`. `data` is the
            batch, or this run's slice of it when `repeats > 1`. `loss` is a
            scalar tensor; `logs` maps tracker names declared by the model
            to scalar tensors, averaged into the `fit` logs.
        variables: a callable returning the trainable variables this phase
            updates. It is a callable because sub-models may be built after
            the phases are declared.
        repeats: how many updates this phase makes per training step. With
            `repeats=k` the batch is cut into k equal slices along axis 0
            and update i sees slice i, as in the k discriminator steps of
            Goodfellow et al. (2014), Algorithm 1.
    """

    name: str
    loss_fn: Callable
    variables: Callable
    repeats: int = 1

    def __post_init__(self):
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise InvalidConfigError(
                f"UpdatePhase '{self.name}' needs `repeats` to be an integer "
                f">= 1. Received: repeats={self.repeats!r}"
            )


@keras.saving.register_keras_serializable(package="zoo")
class PhaseOptimizer(keras.optimizers.MultiOptimizer):
    """A `MultiOptimizer` holding one named optimizer per update phase.

    Holding every optimizer inside the model's single `optimizer` attribute
    is what lets Keras carry their variables through the JAX trainer state,
    save them in `.keras` files and restore them with `BackupAndRestore`.
    The phase-to-variable assignment comes from the model when the
    optimizer is built, so it never depends on variable paths.

    Args:
        optimizers: a dict from phase name to a Keras optimizer.
        name: the optimizer name.
    """

    def __init__(self, optimizers, name=None):
        if not isinstance(optimizers, dict) or not optimizers:
            raise InvalidConfigError(
                "PhaseOptimizer expects a non-empty dict from phase name to "
                f"a keras.optimizers.Optimizer. Received: {optimizers!r}"
            )
        for phase_name, optimizer in optimizers.items():
            if not isinstance(optimizer, keras.optimizers.Optimizer):
                optimizer = keras.optimizers.get(optimizer)
                optimizers[phase_name] = optimizer
            if isinstance(optimizer, keras.optimizers.MultiOptimizer):
                raise InvalidConfigError(
                    f"The optimizer of phase '{phase_name}' is a "
                    "MultiOptimizer; each phase needs a plain optimizer."
                )
        super().__init__(optimizer_map=self._select_optimizer, name=name)

        # The phase order fixes the order of the saved optimizer variables.
        self.phase_names = list(optimizers)
        self._phase_optimizers = dict(optimizers)
        self._inner_optimizers = list(optimizers.values())
        self._variable_phase = None

    @property
    def optimizers_by_phase(self):
        return dict(self._phase_optimizers)

    def assign_phases(self, phases):
        """Record which phase updates which variable, before `build`.

        Args:
            phases: the model's list of `UpdatePhase`.
        """
        missing = [p.name for p in phases if p.name not in self._phase_optimizers]
        if missing:
            raise InvalidConfigError(
                f"No optimizer for the update phases {missing}. The model was "
                f"compiled with optimizers for {self.phase_names}; pass one "
                "optimizer per phase, for example "
                "compile(optimizer={'generator': ..., 'discriminator': ...})."
            )
        self._variable_phase = {}
        for phase in phases:
            for variable in phase.variables():
                owner = self._variable_phase.get(id(variable))
                if owner is not None and owner != phase.name:
                    raise InvalidConfigError(
                        f"Variable '{variable.path}' is updated by both the "
                        f"'{owner}' and '{phase.name}' phases; each variable "
                        "needs exactly one phase."
                    )
                self._variable_phase[id(variable)] = phase.name

    def _select_optimizer(self, variable):
        if self._variable_phase is None:
            raise InvalidConfigError(
                "PhaseOptimizer was built before its model assigned the "
                "update phases. Compile the model with this optimizer instead "
                "of building the optimizer directly."
            )
        phase_name = self._variable_phase.get(id(variable))
        if phase_name is None:
            raise InvalidConfigError(
                f"Trainable variable '{variable.path}' belongs to no update "
                "phase, so no optimizer would update it. Add it to a phase's "
                "`variables` or make it non-trainable."
            )
        return self._phase_optimizers[phase_name]

    def get_config(self):
        return {
            "optimizers": {
                name: keras.optimizers.serialize(optimizer)
                for name, optimizer in self._phase_optimizers.items()
            },
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        optimizers = {
            name: keras.optimizers.deserialize(
                optimizer_config, custom_objects=custom_objects
            )
            for name, optimizer_config in config["optimizers"].items()
        }
        return cls(optimizers, name=config.get("name"))
