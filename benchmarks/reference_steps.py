"""Hand-written per-backend training steps, the baseline of the training benchmark.

`ReferenceStep` wraps a built `PhaseModel` and trains the same networks on
the same phase losses with a `train_step` written as in the keras-io guides
"Customizing what happens in fit()" for TensorFlow (`tf.GradientTape`), JAX
(a stateless `(state, data) -> (logs, state)` step) and PyTorch (autograd).
Like the guides' steps, it averages the loss and every logged value into
`keras.metrics.Mean` trackers and returns their results, so the benchmark
measures what the zoo's core adds around the same arithmetic and tracking:
the loss checks, the loss-scale hook and the phase bookkeeping.

The phase optimizers travel in one `PhaseOptimizer`, because the JAX trainer
carries only `model.optimizer.variables` through its state.
"""

import keras

from zoo.core import PhaseOptimizer


class ReferenceStep(keras.Model):
    """A plain `keras.Model` whose `train_step` runs `model`'s phases by hand.

    Args:
        model: a built `PhaseModel`; its variables are shared, not copied.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.inner = model
        self.phases = model.update_phases()
        # The guides' trackers: one Mean for the loss and one per logged value.
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.log_trackers = [keras.metrics.Mean(name=tracker.name) for tracker in model.phase_trackers]
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, *self.log_trackers]

    def _track(self, logs, total_loss):
        self.loss_tracker.update_state(total_loss)
        for tracker in self.log_trackers:
            tracker.update_state(logs[tracker.name])
        return {metric.name: metric.result() for metric in self.metrics}

    def compile_reference(self, **kwargs):
        optimizer = PhaseOptimizer(self.inner.default_optimizers())
        optimizer.assign_phases(self.phases)
        self.compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return self._tensorflow_step(*args)
        if backend == "jax":
            return self._jax_step(*args)
        return self._torch_step(*args)

    def _slices(self, data, repeats):
        if repeats == 1:
            return [data]
        size = keras.tree.flatten(data)[0].shape[0] // repeats
        return [keras.tree.map_structure(lambda t, i=i: t[i * size : (i + 1) * size], data)
                for i in range(repeats)]

    def _tensorflow_step(self, data):
        import tensorflow as tf

        logs, total_loss = {}, 0.0
        for phase in self.phases:
            variables = phase.variables()
            optimizer = self.optimizer.optimizers_by_phase[phase.name]
            for data_slice in self._slices(data, phase.repeats):
                with tf.GradientTape() as tape:
                    loss, phase_logs = phase.loss_fn(data_slice, training=True)
                optimizer.apply(tape.gradient(loss, variables), variables)
            logs.update(phase_logs)
            total_loss += loss
        return self._track(logs, total_loss)

    def _torch_step(self, data):
        import torch

        logs, total_loss = {}, 0.0
        for phase in self.phases:
            variables = phase.variables()
            optimizer = self.optimizer.optimizers_by_phase[phase.name]
            for data_slice in self._slices(data, phase.repeats):
                self.zero_grad(set_to_none=True)
                loss, phase_logs = phase.loss_fn(data_slice, training=True)
                loss.backward()
                with torch.no_grad():
                    optimizer.apply([v.value.grad for v in variables], variables)
            logs.update({name: value.detach() for name, value in phase_logs.items()})
            total_loss += loss.detach()
        with torch.no_grad():
            return self._track(logs, total_loss)

    def _jax_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        mapping = list(zip(self.trainable_variables, trainable))
        mapping += list(zip(self.non_trainable_variables, non_trainable))
        mapping += list(zip(self.optimizer.variables, optimizer_values))
        mapping += list(zip(self.metrics_variables, metric_values))
        everything = self.trainable_variables + self.non_trainable_variables

        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs, total_loss = {}, 0.0
            for phase in self.phases:
                variables = phase.variables()
                optimizer = self.optimizer.optimizers_by_phase[phase.name]
                for data_slice in self._slices(data, phase.repeats):
                    current = [scope.get_current_value(v) for v in everything]

                    def compute_loss(values, current=current, data_slice=data_slice, phase=phase):
                        inner = list(zip(everything, current)) + list(zip(variables, values))
                        with keras.StatelessScope(state_mapping=inner) as loss_scope:
                            loss, phase_logs = phase.loss_fn(data_slice, training=True)
                        updated = [loss_scope.get_current_value(v) for v in self.non_trainable_variables]
                        return loss, (phase_logs, updated)

                    values = [scope.get_current_value(v) for v in variables]
                    grad_fn = jax.value_and_grad(compute_loss, has_aux=True)
                    (loss, (phase_logs, updated)), gradients = grad_fn(values)
                    for variable, value in zip(self.non_trainable_variables, updated):
                        variable.assign(value)
                    optimizer.apply(gradients, variables)
                logs.update(phase_logs)
                total_loss += loss
            results = self._track(logs, total_loss)

            new_state = (
                [scope.get_current_value(v) for v in self.trainable_variables],
                [scope.get_current_value(v) for v in self.non_trainable_variables],
                [scope.get_current_value(v) for v in self.optimizer.variables],
                [scope.get_current_value(v) for v in self.metrics_variables],
            )
        return results, new_state
