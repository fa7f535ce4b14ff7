"""FID, KID, class coverage, SSIM and L1 against closed forms and golden values."""

import numpy as np
import pytest

from zoo.errors import InvalidInputError
from zoo.gan import metrics

pytestmark = pytest.mark.backend_agnostic


def gaussian_features(rows=2000, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim))
    return rng.normal(size=(rows, dim)) @ mixing


def test_fid_identical_sets_zero():
    features = gaussian_features()
    assert metrics.frechet_inception_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_fid_shifted_set_equals_squared_shift():
    # Equal covariances make the trace term vanish: FID = |shift|^2.
    features = gaussian_features()
    shift = np.arange(8, dtype=np.float64) * 0.5
    expected = float(shift @ shift)
    assert metrics.frechet_inception_distance(features, features + shift) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_closed_form_scaled_gaussians():
    # N(0, a^2 I) against N(m, b^2 I): |m|^2 + D (a - b)^2.
    dim, a, b = 5, 1.0, 3.0
    mean = np.full(dim, 2.0)
    distance = metrics.frechet_distance(np.zeros(dim), a**2 * np.eye(dim), mean, b**2 * np.eye(dim))
    assert distance == pytest.approx(4.0 * dim + dim * (a - b) ** 2, rel=1e-9)


def test_fid_rejects_mismatched_dims():
    with pytest.raises(InvalidInputError, match="same length"):
        metrics.frechet_inception_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def test_kid_golden_value():
    real = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    fake = np.array([[2.0, 0.0], [0.0, 0.0]])
    kid, kid_std = metrics.kernel_inception_distance(real, fake)

    # Kernel (x.y / 2 + 1)^3 written out: within real off-diagonal pairs
    # (1, 1.5^3, 1.5^3) twice over 6; within fake (1) twice over 2;
    # cross real-fake (1, 1, 8, 1, 8, 1) over 6.
    within_real = 2 * (1 + 2 * 1.5**3) / 6
    within_fake = 2 * 1.0 / 2
    cross = (1 + 1 + 8 + 1 + 8 + 1) / 6
    assert kid == pytest.approx(within_real + within_fake - 2 * cross, rel=1e-12)
    assert kid == pytest.approx(-3.0833333333, rel=1e-9)
    assert kid_std == 0.0


def test_kid_near_zero_for_same_distribution():
    real = gaussian_features(rows=1500, seed=1)
    fake = gaussian_features(rows=1500, seed=1)[::-1] + 0.0
    shifted = fake + 1.0
    same, _ = metrics.kernel_inception_distance(real, fake, subset_size=500, num_subsets=4)
    different, _ = metrics.kernel_inception_distance(real, shifted, subset_size=500, num_subsets=4)
    assert abs(same) < 0.05 * different


@pytest.mark.parametrize(
    "classes, expected",
    [
        (np.arange(10000) % 10, 1.0),
        (np.zeros(10000, np.int64), 0.0),
        (np.arange(10000) % 2, np.log(2) / np.log(10)),
        (np.array([0, 0, 0, 1]), (-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))) / np.log(10)),
    ],
)
def test_class_coverage_golden_values(classes, expected):
    assert metrics.class_coverage(classes, 10) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_class_coverage_rejects_out_of_range():
    with pytest.raises(InvalidInputError, match="must lie in"):
        metrics.class_coverage(np.array([0, 10]), 10)


def test_ssim_identical_one_and_noise_lower():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(2, 16, 16, 1))
    assert metrics.structural_similarity(images, images) == pytest.approx(1.0, abs=1e-9)
    noisy = np.clip(images + rng.normal(scale=0.3, size=images.shape), 0, 1)
    assert metrics.structural_similarity(images, noisy) < 0.8


def test_ssim_constant_images_golden():
    # Constant images: SSIM = (2 x y + C1) / (x^2 + y^2 + C1).
    x = np.full((1, 8, 8, 1), 0.2)
    y = np.full((1, 8, 8, 1), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert metrics.structural_similarity(x, y) == pytest.approx(expected, rel=1e-9)


def test_mean_absolute_error_golden():
    assert metrics.mean_absolute_error(np.zeros((1, 2, 2, 1)), np.full((1, 2, 2, 1), 0.25)) == pytest.approx(0.25)


def test_sample_run_scores_an_onnx_generator(tmp_path):
    from recipes.gan_eval import sample_run
    from tests.serving import tiny_models
    from zoo import latent
    from zoo.errors import InvalidConfigError

    path = tiny_models.build_decoder(tmp_path / "generator.onnx")

    images = sample_run(path, 300, seed=3)

    z = latent.sample_prior(300, tiny_models.LATENT_DIM, seed=3)
    np.testing.assert_allclose(images, tiny_models.decode_numpy(z), atol=1e-5)
    with pytest.raises(InvalidConfigError, match="does not exist"):
        sample_run(tmp_path / "missing.onnx", 4)
