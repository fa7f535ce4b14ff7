"""StyleGAN layers against NumPy oracles: modulated convolution, truncation, style mixing, noise."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.stylegan import layers, networks
from zoo.stylegan.model import mix_styles


def numpy(tensor):
    return ops.convert_to_numpy(tensor)


def conv_same(image, kernel):
    """Cross-correlate one image (H, W, C_in) with a kernel (k, k, C_in, C_out), zero "same" padding."""
    size = kernel.shape[0]
    pad = size // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    height, width = image.shape[:2]
    output = np.zeros((height, width, kernel.shape[-1]))
    for row in range(height):
        for column in range(width):
            patch = padded[row : row + size, column : column + size, :]
            output[row, column] = np.tensordot(patch, kernel, axes=([0, 1, 2], [0, 1, 2]))
    return output


def modulated_conv_oracle(layer, x, w):
    """Return (per-sample weights, output) of a ModulatedConv2D, built sample by sample in float64."""
    affine_kernel = numpy(layer.affine_kernel).astype(np.float64)
    affine_bias = numpy(layer.affine_bias).astype(np.float64)
    kernel = numpy(layer.kernel).astype(np.float64)
    styles = w @ affine_kernel / np.sqrt(affine_kernel.shape[0]) + affine_bias
    kernel = kernel / np.sqrt(np.prod(kernel.shape[:3]))

    weights, outputs = [], []
    for index in range(len(x)):
        modulated = kernel * styles[index][None, None, :, None]
        if layer.demodulate:
            modulated = modulated / np.sqrt(np.sum(modulated**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        weights.append(modulated)
        outputs.append(conv_same(x[index], modulated) + numpy(layer.bias))
    return np.stack(weights), np.stack(outputs)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_matches_oracle(demodulate):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 6, 4)).astype("float32")
    w = rng.normal(size=(3, 7)).astype("float32")
    layer = layers.ModulatedConv2D(5, 3, demodulate=demodulate)
    layer.build([x.shape, w.shape])
    layer.bias.assign(rng.normal(size=(5,)).astype("float32"))
    # Styles far from 1, so that a modulation bug cannot hide behind the bias of 1.
    layer.affine_bias.assign(rng.uniform(0.2, 2.0, size=(4,)).astype("float32"))

    expected_weights, expected = modulated_conv_oracle(layer, x, w)

    np.testing.assert_allclose(numpy(layer.modulated_weights(w)), expected_weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(numpy(layer([x, w])), expected, rtol=1e-4, atol=1e-4)


def test_demodulated_filters_have_unit_norm():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 6)).astype("float32")
    layer = layers.ModulatedConv2D(3, 3)
    layer.build([(4, 8, 8, 5), w.shape])

    norms = np.sqrt(np.sum(numpy(layer.modulated_weights(w)) ** 2, axis=(1, 2, 3)))

    np.testing.assert_allclose(norms, np.ones((4, 3)), rtol=1e-5)


def test_truncation_psi_zero_and_one():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(3, 6)).astype("float32")
    w_avg = rng.normal(size=(6,)).astype("float32")
    truncation = layers.Truncation(6)
    truncation.build()
    truncation.w_avg.assign(w_avg)

    at_zero = numpy(truncation([w, np.zeros((3, 1), "float32")]))
    at_one = numpy(truncation([w, np.ones((3, 1), "float32")]))
    at_half = numpy(truncation([w, np.full((3, 1), 0.5, "float32")]))

    np.testing.assert_allclose(at_zero, np.tile(w_avg, (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(at_one, w, rtol=1e-6)
    np.testing.assert_allclose(at_half, (w + w_avg) / 2, rtol=1e-5, atol=1e-6)


def test_truncation_track_is_ema():
    truncation = layers.Truncation(2)
    truncation.build()
    truncation.w_avg.assign(np.array([1.0, -1.0], "float32"))

    truncation.track(np.array([[3.0, 0.0], [5.0, 2.0]], "float32"), beta=0.9)

    # 0.9 * w_avg + 0.1 * batch mean (4, 1).
    np.testing.assert_allclose(numpy(truncation.w_avg), [1.3, -0.8], rtol=1e-5)


def test_mix_styles_fixed_crossover():
    rng = np.random.default_rng(3)
    first = rng.normal(size=(2, 5)).astype("float32")
    second = rng.normal(size=(2, 5)).astype("float32")

    ws = numpy(mix_styles(first, second, 3, num_ws=6))

    assert ws.shape == (2, 6, 5)
    for layer in range(6):
        expected = first if layer < 3 else second
        np.testing.assert_array_equal(ws[:, layer], expected)


def test_mix_styles_per_sample_crossover():
    first = np.zeros((3, 2), "float32")
    second = np.ones((3, 2), "float32")

    ws = numpy(mix_styles(first, second, np.array([0, 2, 4]), num_ws=4))

    # Row n takes `second` from layer crossover[n] on; 4 = num_ws keeps `first`.
    np.testing.assert_array_equal(ws[:, :, 0], [[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])


def test_synthesis_output_depends_on_both_styles():
    keras.utils.set_random_seed(0)
    synthesis = networks.synthesis_network((8, 8, 1), w_dim=6, filters=4, max_filters=8, seed=1)
    rng = np.random.default_rng(4)
    first, second, other = (rng.normal(size=(2, 6)).astype("float32") for _ in range(3))
    num_ws = networks.num_styles(8)

    def render(w_first, w_second):
        return numpy(synthesis(mix_styles(w_first, w_second, 2, num_ws), training=False))

    mixed = render(first, second)

    assert num_ws == 4
    assert np.abs(render(other, second) - mixed).max() > 1e-3, "the coarse styles had no effect"
    assert np.abs(render(first, other) - mixed).max() > 1e-3, "the fine styles had no effect"


def test_noise_fixed_in_inference_fresh_in_training():
    keras.utils.set_random_seed(0)
    noise = layers.NoiseInjection(seed=3)
    x = np.zeros((2, 4, 4, 3), "float32")
    noise.build(x.shape)
    noise.strength.assign(np.array([1.0, 2.0, 0.0], "float32"))

    first, second = numpy(noise(x, training=False)), numpy(noise(x, training=False))
    trained_first, trained_second = numpy(noise(x, training=True)), numpy(noise(x, training=True))

    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first[0, ..., 1], 2 * first[0, ..., 0], rtol=1e-6)
    np.testing.assert_array_equal(first[..., 2], 0.0)
    assert not np.allclose(trained_first, trained_second)
    assert not np.allclose(trained_first[0], trained_first[1])


def test_minibatch_stddev_matches_numpy():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 3, 3, 2)).astype("float32")

    output = numpy(layers.MinibatchStddev(group_size=4)(x))

    # Groups of 4: samples m, m + 2, m + 4, m + 6 for m in {0, 1}.
    groups = x.reshape(4, 2, 3, 3, 2)
    stddev = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    assert output.shape == (8, 3, 3, 3)
    np.testing.assert_array_equal(output[..., :2], x)
    for sample in range(8):
        np.testing.assert_allclose(output[sample, ..., 2], stddev[sample % 2], rtol=1e-5)
