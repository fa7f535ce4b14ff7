"""GAN losses on discriminator logits, in numerically stable forms.

With D(x) = sigmoid(l), the log-probabilities are written with softplus:
log D(x) = -softplus(-l) and log(1 - D(x)) = -softplus(l). Neither form
overflows or takes the log of zero for large |l|. Under a 16-bit policy the
logits arrive in float16 or bfloat16; every loss casts them to float32 first
so that the softplus and the mean keep full precision.
"""

from keras import ops

from zoo.errors import InvalidConfigError

GENERATOR_LOSSES = ("minimax", "non_saturating")


def binary_cross_entropy_with_logits(logits, target):
    """Return the mean of -t log sigmoid(l) - (1 - t) log(1 - sigmoid(l)).

    Args:
        logits: discriminator logits of any shape.
        target: the target probability, a float in [0, 1].

    Returns:
        A scalar tensor.
    """
    logits = ops.cast(logits, "float32")
    per_item = target * ops.softplus(-logits) + (1.0 - target) * ops.softplus(logits)
    return ops.mean(per_item)


def discriminator_loss(real_logits, fake_logits, real_target=1.0):
    """Return the discriminator loss -log D(x) - log(1 - D(G(z))), averaged.

    Args:
        real_logits: logits on real images, any shape.
        fake_logits: logits on generated images, any shape.
        real_target: the target of real images; 0.9 is one-sided label
            smoothing (Salimans et al. 2016). Fake images keep target 0.

    Returns:
        A scalar tensor: the real-image term plus the fake-image term.
    """
    real_loss = binary_cross_entropy_with_logits(real_logits, real_target)
    fake_loss = binary_cross_entropy_with_logits(fake_logits, 0.0)
    return real_loss + fake_loss


def generator_loss(fake_logits, form="non_saturating"):
    """Return the generator loss on the discriminator logits of G(z).

    Args:
        fake_logits: logits on generated images, any shape.
        form: `"minimax"` minimises log(1 - D(G(z))), the value function
            of Goodfellow et al. (2014), whose gradient vanishes when D
            rejects the samples with confidence. `"non_saturating"`
            minimises -log D(G(z)), the alternative the same paper proposes.

    Returns:
        A scalar tensor.

    Raises:
        InvalidConfigError: when `form` is not one of `GENERATOR_LOSSES`.
    """
    fake_logits = ops.cast(fake_logits, "float32")
    if form == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    if form == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    raise InvalidConfigError(
        f"The generator loss form must be one of {GENERATOR_LOSSES}. "
        f"Received: {form!r}"
    )


def real_accuracy(real_logits):
    """Return the fraction of real images that D classifies as real."""
    return ops.mean(ops.cast(real_logits > 0.0, "float32"))


def fake_accuracy(fake_logits):
    """Return the fraction of generated images that D classifies as fake."""
    return ops.mean(ops.cast(fake_logits < 0.0, "float32"))
