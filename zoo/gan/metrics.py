"""Sample-quality metrics of generators, in NumPy and SciPy.

FID and KID compare feature vectors of real and generated images. The zoo
computes them on the `features` of its Fashion-MNIST classifier, not on
Inception-v3 features, so the values compare zoo models with each other
only, never with published FID numbers. SSIM and L1 measure image-to-image
translation against the target.
"""

import numpy as np
import scipy.linalg
import scipy.ndimage

from zoo.errors import InvalidInputError

# Imaginary parts of sqrtm below this are round-off of a real square root.
SQRTM_IMAGINARY_TOLERANCE = 1e-3


def _as_features(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise InvalidInputError(
            f"{name} must be a 2-D array (N, D) with N >= 2. Received shape {features.shape}."
        )
    return features


def _check_same_dim(real, fake):
    if real.shape[1] != fake.shape[1]:
        raise InvalidInputError(
            "Real and generated features must have the same length. "
            f"Received {real.shape[1]} and {fake.shape[1]}."
        )


def frechet_distance(mean_a, covariance_a, mean_b, covariance_b):
    """Return the Frechet distance between two Gaussians.

    d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    Raises:
        InvalidInputError: when the matrix square root has an imaginary part
            larger than round-off, which means a covariance is not positive
            semi-definite.
    """
    diff = mean_a - mean_b
    covariance_sqrt = scipy.linalg.sqrtm(covariance_a @ covariance_b)
    if not np.isfinite(covariance_sqrt).all():
        # A singular product: shift both covariances by a small ridge, as
        # the reference FID implementation of Heusel et al. (2017) does.
        offset = np.eye(len(covariance_a)) * 1e-6
        covariance_sqrt = scipy.linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))

    # Only the trace enters the distance, so only the diagonal's imaginary
    # parts must be round-off, as in the reference implementation.
    if np.iscomplexobj(covariance_sqrt):
        largest_imaginary = np.max(np.abs(np.diagonal(covariance_sqrt).imag))
        if largest_imaginary > SQRTM_IMAGINARY_TOLERANCE:
            raise InvalidInputError(
                "The square root of the covariance product has imaginary parts "
                f"up to {largest_imaginary:.3g}, so a covariance is not positive "
                "semi-definite. Use more samples than feature dimensions."
            )
        covariance_sqrt = covariance_sqrt.real

    distance = diff @ diff + np.trace(covariance_a) + np.trace(covariance_b)
    distance -= 2.0 * np.trace(covariance_sqrt)
    # Round-off can make the distance of identical sets slightly negative.
    return float(max(distance, 0.0))


def frechet_inception_distance(real_features, fake_features):
    """Return FID: the Frechet distance of Gaussians fitted to two feature sets.

    Args:
        real_features: array (N, D) of real-image features.
        fake_features: array (M, D) of generated-image features.

    Returns:
        A float >= 0; 0 for identical sets.
    """
    real = _as_features(real_features, "real_features")
    fake = _as_features(fake_features, "fake_features")
    _check_same_dim(real, fake)
    return frechet_distance(
        real.mean(axis=0), np.cov(real, rowvar=False), fake.mean(axis=0), np.cov(fake, rowvar=False)
    )


def polynomial_kernel(a, b):
    """Return the KID kernel k(x, y) = (x . y / D + 1)^3 for all row pairs."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd_squared_unbiased(real, fake):
    """Return the unbiased estimate of MMD^2 with `polynomial_kernel`.

    The diagonal terms k(x_i, x_i) are left out of both within-set means.
    """
    m, n = len(real), len(fake)
    k_real = polynomial_kernel(real, real)
    k_fake = polynomial_kernel(fake, fake)
    k_cross = polynomial_kernel(real, fake)
    within_real = (k_real.sum() - np.trace(k_real)) / (m * (m - 1))
    within_fake = (k_fake.sum() - np.trace(k_fake)) / (n * (n - 1))
    return float(within_real + within_fake - 2.0 * k_cross.mean())


def kernel_inception_distance(real_features, fake_features, subset_size=1000, num_subsets=10, seed=0):
    """Return KID (Binkowski et al. 2018): unbiased MMD^2, cubic polynomial kernel.

    The estimate is averaged over `num_subsets` random subsets of
    `subset_size` rows of each set, which bounds the memory at
    O(subset_size^2). When both sets have at most `subset_size` rows, it is
    computed once on the whole sets.

    Args:
        real_features: array (N, D).
        fake_features: array (M, D).
        subset_size: rows per subset.
        num_subsets: subsets to average.
        seed: seed of the subset sampling.

    Returns:
        `(kid, kid_std)`: the mean over subsets and its standard deviation
        (0.0 with one subset). KID may be slightly negative for equal
        distributions because the estimator is unbiased.
    """
    real = _as_features(real_features, "real_features")
    fake = _as_features(fake_features, "fake_features")
    _check_same_dim(real, fake)

    if len(real) <= subset_size and len(fake) <= subset_size:
        return mmd_squared_unbiased(real, fake), 0.0

    rng = np.random.default_rng(seed)
    size = min(subset_size, len(real), len(fake))
    values = []
    for _ in range(num_subsets):
        real_rows = rng.choice(len(real), size, replace=False)
        fake_rows = rng.choice(len(fake), size, replace=False)
        values.append(mmd_squared_unbiased(real[real_rows], fake[fake_rows]))
    return float(np.mean(values)), float(np.std(values))


def class_coverage(predicted_classes, num_classes=10):
    """Return the entropy of the predicted-class histogram divided by log(num_classes).

    1.0 means the samples are spread evenly over all classes; 0.0 means
    every sample falls in one class (complete mode collapse).

    Args:
        predicted_classes: int array (N,) of class indices in [0, num_classes).
        num_classes: the number of classes.

    Returns:
        A float in [0, 1].
    """
    predicted_classes = np.asarray(predicted_classes)
    if predicted_classes.ndim != 1 or len(predicted_classes) == 0:
        raise InvalidInputError(
            "predicted_classes must be a non-empty 1-D array of class indices. "
            f"Received shape {predicted_classes.shape}."
        )
    if predicted_classes.min() < 0 or predicted_classes.max() >= num_classes:
        raise InvalidInputError(
            f"predicted_classes must lie in [0, {num_classes}). Received values "
            f"from {predicted_classes.min()} to {predicted_classes.max()}."
        )
    counts = np.bincount(predicted_classes, minlength=num_classes)
    probabilities = counts[counts > 0] / counts.sum()
    entropy = -np.sum(probabilities * np.log(probabilities))
    return float(entropy / np.log(num_classes))


def mean_absolute_error(images, targets):
    """Return the mean |images - targets| over all pixels, in the images' units."""
    return float(np.mean(np.abs(np.asarray(images, np.float64) - np.asarray(targets, np.float64))))


def structural_similarity(images, targets, data_range=1.0, sigma=1.5):
    """Return the mean SSIM (Wang et al. 2004) of image pairs, Gaussian window.

    Local statistics use a Gaussian window of standard deviation `sigma`
    (1.5 pixels, as in the paper), per image and channel, with constants
    K1 = 0.01 and K2 = 0.03.

    Args:
        images: array (N, H, W, C).
        targets: array (N, H, W, C), the same shape.
        data_range: the value range of the pixels, 1.0 for [0, 1].
        sigma: the standard deviation of the window, in pixels.

    Returns:
        The SSIM averaged over pixels, channels and images, in [-1, 1].
    """
    images = np.asarray(images, np.float64)
    targets = np.asarray(targets, np.float64)
    if images.shape != targets.shape or images.ndim != 4:
        raise InvalidInputError(
            "images and targets must be arrays of the same shape (N, H, W, C). "
            f"Received {images.shape} and {targets.shape}."
        )

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    # Smooth only over height and width, never across images or channels.
    def blur(array):
        return scipy.ndimage.gaussian_filter(array, sigma=(0, sigma, sigma, 0), mode="reflect")

    mean_x, mean_y = blur(images), blur(targets)
    var_x = blur(images * images) - mean_x**2
    var_y = blur(targets * targets) - mean_y**2
    covariance = blur(images * targets) - mean_x * mean_y
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())
