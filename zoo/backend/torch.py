"""Training and test steps of a `PhaseModel` under the PyTorch backend."""

import torch

from zoo.backend import batch_slices, check_loss, scale_loss, update_trackers


def train_step(model, data):
    logs = {}
    total_loss = None

    for phase in model.update_phases():
        variables = phase.variables()
        optimizer = model.optimizer.optimizers_by_phase[phase.name]

        for data_slice in batch_slices(data, phase.repeats):
            # Gradients accumulate in `.grad` across backward calls, and an
            # earlier phase may have left some on this phase's variables.
            model.zero_grad(set_to_none=True)
            loss, phase_logs = phase.loss_fn(data_slice, training=True)
            check_loss(phase, loss)
            scale_loss(optimizer, loss).backward()
            gradients = [variable.value.grad for variable in variables]
            with torch.no_grad():
                optimizer.apply(gradients, variables)

        logs.update({name: value.detach() for name, value in phase_logs.items()})
        loss = loss.detach()
        total_loss = loss if total_loss is None else total_loss + loss

    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        model.optimizer.iterations.assign_add(1)
        return update_trackers(model, logs, total_loss)


def test_step(model, data):
    logs = {}
    total_loss = None

    with torch.no_grad():
        for phase in model.update_phases():
            loss, phase_logs = phase.loss_fn(data, training=False)
            logs.update(phase_logs)
            total_loss = loss if total_loss is None else total_loss + loss

        return update_trackers(model, logs, total_loss)


def list_devices():
    devices = ["cpu"]
    for index in range(torch.cuda.device_count()):
        devices.append(f"cuda:{index} ({torch.cuda.get_device_name(index)})")
    return devices


def input_gradients(function, inputs):
    if not inputs.requires_grad:
        inputs = inputs.detach().requires_grad_(True)
    outputs = function(inputs).sum()
    (gradients,) = torch.autograd.grad(outputs, inputs, create_graph=True)
    return gradients
