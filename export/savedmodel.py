"""TensorFlow SavedModel export with a named `serving_default` signature.

Every function here runs in the TensorFlow subprocess.
"""

import os

SIGNATURE_KEY = "serving_default"


def write(function, variables, path):
    """Write a traced part as a SavedModel.

    Args:
        function: a `tf.function` with a named input signature that returns
            a dict from output name to tensor. Its concrete function becomes
            the `serving_default` signature, so the signature's input and
            output keys are the part's layer names.
        variables: the `tf.Variable`s the function reads. SavedModel saves
            only variables tracked by the saved object.
        path: the SavedModel folder to create.
    """
    import tensorflow as tf

    module = tf.Module()
    module.part_variables = list(variables)
    module.serve = function
    concrete = function.get_concrete_function()
    tf.saved_model.save(module, os.fspath(path), signatures={SIGNATURE_KEY: concrete})


def run(path, inputs):
    """Run the `serving_default` signature of a SavedModel.

    Args:
        path: the SavedModel folder.
        inputs: a dict from input name to array.

    Returns:
        A dict from output name to array.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(os.fspath(path))
    signature = loaded.signatures[SIGNATURE_KEY]
    outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def describe(path):
    """Return the `serving_default` signature's inputs and outputs.

    Returns:
        `{"inputs": {name: shape}, "outputs": {name: shape}}` with `None`
        for unknown dimensions.
    """
    import tensorflow as tf

    signature = tf.saved_model.load(os.fspath(path)).signatures[SIGNATURE_KEY]
    _, input_specs = signature.structured_input_signature
    return {
        "inputs": {name: spec.shape.as_list() for name, spec in input_specs.items()},
        "outputs": {name: spec.shape.as_list() for name, spec in signature.structured_outputs.items()},
    }
