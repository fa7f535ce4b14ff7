"""Training and test steps of a `PhaseModel` under the TensorFlow backend."""

import tensorflow as tf

from zoo.backend import batch_slices, check_loss, update_trackers


def train_step(model, data):
    logs = {}
    total_loss = None

    for phase in model.update_phases():
        variables = phase.variables()
        optimizer = model.optimizer.optimizers_by_phase[phase.name]

        for data_slice in batch_slices(data, phase.repeats):
            with tf.GradientTape() as tape:
                loss, phase_logs = phase.loss_fn(data_slice, training=True)
            check_loss(phase, loss)
            gradients = tape.gradient(loss, variables)
            optimizer.apply(gradients, variables)

        logs.update(phase_logs)
        total_loss = loss if total_loss is None else total_loss + loss

    model.optimizer.iterations.assign_add(1)
    return update_trackers(model, logs, total_loss)


def test_step(model, data):
    logs = {}
    total_loss = None

    for phase in model.update_phases():
        loss, phase_logs = phase.loss_fn(data, training=False)
        logs.update(phase_logs)
        total_loss = loss if total_loss is None else total_loss + loss

    return update_trackers(model, logs, total_loss)


def list_devices():
    return [device.name for device in tf.config.list_logical_devices()]


def input_gradients(function, inputs):
    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = tf.reduce_sum(function(inputs))
    return tape.gradient(outputs, inputs)
