"""GAN losses against NumPy oracles on fixed logits."""

import keras
import numpy as np
import pytest

from zoo.errors import InvalidConfigError
from zoo.gan import losses

REAL_LOGITS = np.array([[2.0], [-1.0], [0.5], [40.0]], "float32")
FAKE_LOGITS = np.array([[-3.0], [0.2], [1.5], [-40.0]], "float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def oracle_discriminator_loss(real, fake, real_target):
    # Probabilities in float64; 1 - sigmoid(l) is taken as sigmoid(-l), which
    # stays representable for the logit 40 where 1 - sigmoid(40) rounds to 0.
    log_d_real, log_not_d_real = np.log(sigmoid(real)), np.log(sigmoid(-real))
    real_term = -(real_target * log_d_real + (1 - real_target) * log_not_d_real)
    return np.mean(real_term) + np.mean(-np.log(sigmoid(-fake)))


def value(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


@pytest.mark.parametrize("real_target", [1.0, 0.9])
def test_discriminator_loss_matches_oracle(real_target):
    loss = losses.discriminator_loss(REAL_LOGITS, FAKE_LOGITS, real_target)
    expected = oracle_discriminator_loss(REAL_LOGITS, FAKE_LOGITS, real_target)
    np.testing.assert_allclose(value(loss), expected, rtol=1e-5)


def test_discriminator_loss_golden_values():
    # softplus(-2) + softplus(1) + softplus(-0.5) + softplus(-40), over 4,
    # plus softplus(-3) + softplus(0.2) + softplus(1.5) + softplus(-40), over 4.
    np.testing.assert_allclose(value(losses.discriminator_loss(REAL_LOGITS, FAKE_LOGITS)), 1.1156015, rtol=1e-5)
    np.testing.assert_allclose(
        value(losses.discriminator_loss(REAL_LOGITS, FAKE_LOGITS, 0.9)), 2.1531015, rtol=1e-5
    )


def test_generator_loss_forms_match_oracle():
    minimax = np.mean(np.log(sigmoid(-FAKE_LOGITS)))
    non_saturating = np.mean(-np.log(sigmoid(FAKE_LOGITS)))

    np.testing.assert_allclose(value(losses.generator_loss(FAKE_LOGITS, "minimax")), minimax, rtol=1e-5)
    np.testing.assert_allclose(
        value(losses.generator_loss(FAKE_LOGITS, "non_saturating")), non_saturating, rtol=1e-5
    )
    np.testing.assert_allclose(value(losses.generator_loss(FAKE_LOGITS, "minimax")), -0.6370349, rtol=1e-5)
    np.testing.assert_allclose(value(losses.generator_loss(FAKE_LOGITS, "non_saturating")), 10.962035, rtol=1e-5)


def test_losses_finite_for_extreme_logits():
    extreme = np.array([[-1e4], [1e4]], "float32")
    assert np.isfinite(value(losses.discriminator_loss(extreme, extreme, 0.9)))
    assert np.isfinite(value(losses.generator_loss(extreme, "minimax")))
    assert np.isfinite(value(losses.generator_loss(extreme, "non_saturating")))


def test_accuracies_count_correct_sides():
    assert value(losses.real_accuracy(REAL_LOGITS)) == pytest.approx(0.75)
    assert value(losses.fake_accuracy(FAKE_LOGITS)) == pytest.approx(0.5)


def test_unknown_generator_loss_rejected():
    with pytest.raises(InvalidConfigError, match="non_saturating"):
        losses.generator_loss(FAKE_LOGITS, "wasserstein")
