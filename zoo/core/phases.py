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
        self._variable_position = None

    @property
    def optimizers_by_phase(self):
        return dict(self._phase_optimizers)

    @property
    def loss_scaled(self):
        """Whether every phase optimizer is a `LossScaleOptimizer`."""
        return all(
            isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
            for optimizer in self._phase_optimizers.values()
        )

    def with_loss_scaling(self):
        """Return a copy whose phase optimizers each scale their phase loss.

        float16 gradients underflow to zero below about 6e-8, so under the
        `mixed_float16` policy each phase's optimizer becomes a
        `keras.optimizers.LossScaleOptimizer`. The backend steps multiply
        the phase loss by that optimizer's dynamic scale before
        differentiating, and the optimizer divides the gradients by it.
        A step with a non-finite gradient is skipped and halves that
        phase's scale, so the discriminator of a GAN can lower its scale
        without touching the generator's.

        Returns:
            A new, unbuilt `PhaseOptimizer`, or this one when every phase
            optimizer is already a `LossScaleOptimizer`.

        Raises:
            InvalidConfigError: this optimizer is already built, so its
                variables could not be rebuilt inside the wrappers.
        """
        if self.loss_scaled:
            return self
        if self.built:
            raise InvalidConfigError(
                "PhaseOptimizer was already built without loss scaling, so it "
                "cannot be wrapped for the mixed_float16 policy. Compile with "
                "a new optimizer, or pass PhaseOptimizer({phase: "
                "keras.optimizers.LossScaleOptimizer(optimizer), ...})."
            )
        optimizers = {}
        for phase_name, optimizer in self._phase_optimizers.items():
            if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(
                    optimizer, name=f"{phase_name}_loss_scale_optimizer"
                )
            optimizers[phase_name] = optimizer
        return PhaseOptimizer(optimizers, name=self.name)

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
        self._variable_position = {}
        for phase in phases:
            for position, variable in enumerate(phase.variables()):
                self._variable_position[id(variable)] = position
                owner = self._variable_phase.get(id(variable))
                if owner is not None and owner != phase.name:
                    raise InvalidConfigError(
                        f"Variable '{variable.path}' is updated by both the "
                        f"'{owner}' and '{phase.name}' phases; each variable "
                        "needs exactly one phase."
                    )
                self._variable_phase[id(variable)] = phase.name

    def build(self, var_list):
        """Create the variables of every phase optimizer.

        `MultiOptimizer.build` rejects `LossScaleOptimizer` members, but
        float16 training needs one loss scale per phase, so the variables
        are grouped here instead. Each phase optimizer is built on its
        variables in the order `UpdatePhase.variables()` returns them: the
        JAX step passes values to `stateless_apply` in that order.

        Args:
            var_list: the model's trainable variables.
        """
        if self.built:
            return
        self._var_to_optimizer_idx = {}
        self._trainable_variables_indices = {}
        grouped = [[] for _ in self._inner_optimizers]
        for index, variable in enumerate(var_list):
            optimizer_index = self._inner_optimizers.index(self._select_optimizer(variable))
            self._var_to_optimizer_idx[self._var_key(variable)] = optimizer_index
            self._trainable_variables_indices[self._var_key(variable)] = index
            grouped[optimizer_index].append(variable)

        for optimizer, variables in zip(self._inner_optimizers, grouped):
            if variables:
                variables.sort(key=lambda variable: self._variable_position[id(variable)])
                optimizer.build(variables)
        super(keras.optimizers.MultiOptimizer, self).build(var_list)

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
