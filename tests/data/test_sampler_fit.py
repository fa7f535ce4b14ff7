"""`model.fit` on a `PKSampler` under the current Keras backend.

This file has no `backend_agnostic` mark, so it runs in every backend's pass.
"""

import keras

from recipes.data import PKSampler, load_digits


def test_fit_on_pk_sampler():
    digits = load_digits()
    sampler = PKSampler(digits, p=10, k=4, steps_per_epoch=8, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    history = model.fit(sampler, epochs=2, verbose=0)

    assert len(history.history["loss"]) == 2
    # Keras also calls on_epoch_end when it resets its epoch iterator, so
    # the counter may run ahead of the number of epochs.
    assert sampler.epoch >= 2
    _, accuracy = model.evaluate(digits.images, digits.labels, batch_size=600, verbose=0)
    # 16 steps reach about 0.91 on every backend; chance is 0.1.
    assert accuracy > 0.8
