"""Training and test steps of a `PhaseModel` under the JAX backend.

The JAX trainer calls `train_step(state, data)` with the values of every
variable and expects the new values back: nothing may be updated in place.
The step runs inside one `keras.StatelessScope` that maps every variable to
its current value, so that optimizers, BatchNorm statistics, seed generators
and metric trackers read and write that mapping. Only the gradient of each
phase loss is computed functionally, with `jax.value_and_grad` over the
phase's own variables.
"""

import jax
import keras

from zoo.backend import batch_slices, check_loss, scale_loss, update_trackers


def train_step(model, state, data):
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    with keras.StatelessScope(state_mapping=_pairs(groups, state)) as scope:
        logs = {}
        total_loss = None

        for phase in model.update_phases():
            optimizer = model.optimizer.optimizers_by_phase[phase.name]
            for data_slice in batch_slices(data, phase.repeats):
                loss, phase_logs = _update_phase(
                    model, scope, phase, optimizer, data_slice
                )
            logs.update(phase_logs)
            total_loss = loss if total_loss is None else total_loss + loss

        model.optimizer.iterations.assign_add(1)
        logs = update_trackers(model, logs, total_loss)

    return logs, _current_values(scope, groups)


def test_step(model, state, data):
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.metrics_variables,
    )
    with keras.StatelessScope(state_mapping=_pairs(groups, state)) as scope:
        logs = {}
        total_loss = None

        for phase in model.update_phases():
            loss, phase_logs = phase.loss_fn(data, training=False)
            logs.update(phase_logs)
            total_loss = loss if total_loss is None else total_loss + loss

        logs = update_trackers(model, logs, total_loss)

    return logs, _current_values(scope, groups)


def _update_phase(model, scope, phase, optimizer, data_slice):
    """Run one update of `phase`, writing the results into `scope`."""
    variables = phase.variables()
    phase_ids = {id(variable) for variable in variables}
    others = [
        variable
        for variable in model.trainable_variables + model.non_trainable_variables
        if id(variable) not in phase_ids
    ]
    other_values = [scope.get_current_value(variable) for variable in others]
    optimizer_values = [scope.get_current_value(variable) for variable in optimizer.variables]
    non_trainable = model.non_trainable_variables

    def compute_loss(phase_values):
        mapping = list(zip(variables, phase_values))
        mapping += list(zip(others, other_values))
        mapping += list(zip(optimizer.variables, optimizer_values))
        with keras.StatelessScope(state_mapping=mapping) as loss_scope:
            loss, phase_logs = phase.loss_fn(data_slice, training=True)
            check_loss(phase, loss)
            # A LossScaleOptimizer (mixed_float16) reads its dynamic scale
            # here and divides the gradients by it in stateless_apply.
            scaled_loss = scale_loss(optimizer, loss)
        updated = [loss_scope.get_current_value(v) for v in non_trainable]
        return scaled_loss, (loss, phase_logs, updated)

    # Compute the gradient of the phase loss.
    phase_values = [scope.get_current_value(variable) for variable in variables]
    grad_fn = jax.value_and_grad(compute_loss, has_aux=True)
    (_, (loss, phase_logs, updated)), gradients = grad_fn(phase_values)

    # Keep the BatchNorm statistics and seed states the loss advanced.
    for variable, value in zip(non_trainable, updated):
        variable.assign(value)

    # Apply the update statelessly: LossScaleOptimizer's stateful `apply`
    # branches with `ops.cond` on variable assignments, which JAX cannot
    # trace. PhaseOptimizer built this optimizer on `variables` in this
    # order. The outer scope records the new values.
    new_values, new_optimizer_values = optimizer.stateless_apply(
        optimizer_values, gradients, phase_values
    )
    for variable, value in zip(variables, new_values):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, new_optimizer_values):
        variable.assign(value)
    return loss, phase_logs


def _pairs(groups, values):
    return [
        (variable, value)
        for variables, group_values in zip(groups, values)
        for variable, value in zip(variables, group_values)
    ]


def _current_values(scope, groups):
    return tuple(
        [scope.get_current_value(variable) for variable in variables]
        for variables in groups
    )


def list_devices():
    return [f"{device.platform}:{device.id}" for device in jax.devices()]


def input_gradients(function, inputs):
    # Variables read by `function` resolve through the enclosing stateless
    # scope, so this nested `jax.grad` differentiates only through `inputs`
    # while staying differentiable for the outer phase gradient.
    return jax.grad(lambda batch: jax.numpy.sum(function(batch)))(inputs)
