"""Pictures of the GAN recipes: sample grids, interpolations, arithmetic, triples."""

import keras
import numpy as np

from zoo import latent


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tile(images, columns):
    """Arrange images (N, H, W, C) in [0, 1] into one (rows*H, columns*W) array."""
    count, height, width = images.shape[:3]
    rows = -(-count // columns)
    canvas = np.ones((rows * height, columns * width), np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image[..., 0]
    return canvas


def save_grid(run, name, images, columns, title):
    """Write a grid of images (N, H, W, C) in [0, 1] as `pictures/<name>.png`."""
    plt = _pyplot()
    canvas = tile(np.clip(images, 0.0, 1.0), columns)
    figure, axes = plt.subplots(figsize=(columns * 0.7, canvas.shape[0] / canvas.shape[1] * columns * 0.7 + 0.4))
    axes.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0)
    axes.set_axis_off()
    axes.set_title(title, fontsize=9)
    return run.save_figure(figure, name)


class SampleGridCallback(keras.callbacks.Callback):
    """Draw the generator's images from the same fixed noise after every epoch.

    Args:
        run: the `RunFolder` to write `pictures/samples_epoch_XXX.png` into.
        z: the fixed noise, float32 (N, latent_dim).
        columns: images per grid row.
    """

    def __init__(self, run, z, columns=8):
        super().__init__()
        self.run = run
        self.z = z
        self.columns = columns

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.z)
        save_grid(
            self.run,
            f"samples_epoch_{epoch + 1:03d}",
            images,
            self.columns,
            f"{type(self.model).__name__} samples from fixed noise, epoch {epoch + 1}",
        )


def interpolation_strips(run, generator_part, latent_dim, rows=6, steps=10, seed=1):
    """Draw `rows` slerp paths between pairs of prior samples, one per row."""
    ends = latent.sample_prior(2 * rows, latent_dim, seed=seed)
    paths = np.concatenate([latent.slerp(ends[2 * i], ends[2 * i + 1], steps) for i in range(rows)])
    images = latent.decode(generator_part, paths)
    return save_grid(run, "interpolation", images, steps, "Spherical interpolation between noise vectors")


def latent_arithmetic(run, generator_part, classify, class_names, latent_dim, pair=(7, 5), samples=4000, seed=2):
    """Draw an attribute-arithmetic example: z + (mean z of class a - mean z of class b).

    The classes of generated samples come from the Fashion-MNIST classifier,
    so the attribute vector is the difference of the mean noise of samples
    classified as `class_names[pair[0]]` and as `class_names[pair[1]]`.

    Args:
        run: the `RunFolder`.
        generator_part: the exportable generator, `z -> images` in [0, 1].
        classify: a function `images -> predicted class indices`.
        class_names: the class names.
        latent_dim: the noise size.
        pair: the class indices (a, b); default (Sneaker, Sandal).
        samples: the noise vectors drawn to find the class means.
        seed: the noise seed.

    Returns:
        The picture path, or None when a class of `pair` has no sample.
    """
    z = latent.sample_prior(samples, latent_dim, seed=seed)
    predicted = classify(latent.decode(generator_part, z))
    with_class, without_class = z[predicted == pair[0]], z[predicted == pair[1]]
    if len(with_class) == 0 or len(without_class) == 0:
        return None
    vector = latent.attribute_vector(with_class, without_class)

    # Row 1: samples of class b; rows 2-4: the same noise moved by 0.5, 1, 1.5 vectors.
    starts = without_class[:8]
    rows = [latent.apply_attribute(starts, vector, scale) for scale in (0.0, 0.5, 1.0, 1.5)]
    images = latent.decode(generator_part, np.concatenate(rows))
    title = (
        f"z + s * (mean z[{class_names[pair[0]]}] - mean z[{class_names[pair[1]]}]), "
        "rows s = 0, 0.5, 1, 1.5"
    )
    return save_grid(run, "latent_arithmetic", images, len(starts), title)


def translation_triples(run, inputs, translated, targets, count=8, name="translation_triples"):
    """Draw input, output and target rows for the first `count` pairs."""
    rows = np.concatenate([inputs[:count], translated[:count], targets[:count]])
    return save_grid(run, name, rows, min(count, len(inputs)), "rows: input, pix2pix output, target")
