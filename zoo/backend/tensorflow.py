"""Training and test steps of a `PhaseModel` under the TensorFlow backend.

Under a `tf.distribute` strategy Keras runs `train_step` once per replica
on that replica's share of the batch, and `optimizer.apply` sums the
gradients of all replicas. Each phase loss is therefore divided by the
number of replicas before differentiation, so the applied gradient is the
mean over replicas, as in Keras's own `compute_loss`.

Each phase loss is also multiplied by its optimizer's loss scale before
differentiation (`zoo.backend.scale_loss`): under `mixed_float16` that
optimizer is a `LossScaleOptimizer`, which divides the gradients by the
same scale and skips a step whose gradients are not finite.

NOTE: everything inside a phase loss still sees only the replica's share:
BatchNorm batch statistics, in-batch triplet mining and the `repeats`
slices. Data-parallel training under JAX keeps whole-batch semantics.
"""

import tensorflow as tf

from zoo.backend import batch_slices, check_loss, scale_loss, update_trackers


def train_step(model, data):
    logs = {}
    total_loss = None
    replicas = tf.distribute.get_strategy().num_replicas_in_sync

    for phase in model.update_phases():
        variables = phase.variables()
        optimizer = model.optimizer.optimizers_by_phase[phase.name]

        for data_slice in batch_slices(data, phase.repeats):
            with tf.GradientTape() as tape:
                loss, phase_logs = phase.loss_fn(data_slice, training=True)
                scaled_loss = scale_loss(optimizer, _replica_share(loss, replicas))
            check_loss(phase, loss)
            gradients = tape.gradient(scaled_loss, variables)
            optimizer.apply(gradients, variables)

        logs.update(phase_logs)
        total_loss = loss if total_loss is None else total_loss + loss

    model.optimizer.iterations.assign_add(1)
    return update_trackers(model, logs, total_loss)


def _replica_share(loss, replicas):
    if replicas == 1:
        return loss
    return loss / tf.cast(replicas, loss.dtype)


def test_step(model, data):
    logs = {}
    total_loss = None

    for phase in model.update_phases():
        loss, phase_logs = phase.loss_fn(data, training=False)
        logs.update(phase_logs)
        total_loss = loss if total_loss is None else total_loss + loss

    return update_trackers(model, logs, total_loss)


def mirrored_strategy():
    """Return a `tf.distribute.MirroredStrategy` over every GPU, else every logical CPU.

    `MirroredStrategy()` with no devices named uses one CPU on a machine
    without GPUs, so the devices are listed here.
    """
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy(devices=[device.name for device in devices])


def list_devices():
    return [device.name for device in tf.config.list_logical_devices()]


def input_gradients(function, inputs):
    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = tf.reduce_sum(function(inputs))
    return tape.gradient(outputs, inputs)
