"""Pictures of the autoencoder recipes: reconstructions, samples, paths.

Each function draws one matplotlib figure and writes it into the run's
`pictures/` folder. Images are float32 NHWC in [0, 1].
"""

import numpy as np

from zoo import latent

INTERPOLATION_STEPS = 10


def _image_grid(rows, titles=None, row_labels=None, cell_inches=0.9):
    """Return a figure showing `rows`, a list of image arrays (n, h, w, c)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    num_rows, num_cols = len(rows), max(len(row) for row in rows)
    figure, axes = plt.subplots(
        num_rows,
        num_cols,
        figsize=(cell_inches * num_cols, cell_inches * num_rows + 0.3),
        squeeze=False,
    )
    for row_index, row in enumerate(rows):
        for col_index in range(num_cols):
            axis = axes[row_index][col_index]
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_frame_on(False)
            if col_index < len(row):
                image = row[col_index]
                axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        if row_labels:
            axes[row_index][0].set_ylabel(row_labels[row_index], fontsize=7, rotation=0, ha="right", va="center")
    if titles:
        figure.suptitle(titles, fontsize=9)
    return figure


def draw_reconstructions(run, inputs, reconstructions):
    """Write `reconstructions.png`: inputs above their reconstructions."""
    figure = _image_grid(
        [inputs, reconstructions],
        "Test images (top) and their reconstructions (bottom)",
        ["input", "output"],
    )
    return run.save_figure(figure, "reconstructions")


def draw_samples(run, decoder, z, title):
    """Write `samples.png`: the images decoded from latents `z`, 8 per row."""
    images = latent.decode(decoder, z)
    rows = [images[start : start + 8] for start in range(0, len(images), 8)]
    return run.save_figure(_image_grid(rows, title), "samples")


def draw_interpolations(run, decoder, pairs):
    """Write `interpolation.png`: linear against spherical paths per pair.

    Args:
        pairs: a list of `(z_start, z_end)` latents of shape (latent_dim,).
    """
    rows, labels = [], []
    for index, (z_start, z_end) in enumerate(pairs, start=1):
        rows.append(latent.decode(decoder, latent.lerp(z_start, z_end, INTERPOLATION_STEPS)))
        rows.append(latent.decode(decoder, latent.slerp(z_start, z_end, INTERPOLATION_STEPS)))
        labels += [f"{index} linear", f"{index} slerp"]
    figure = _image_grid(rows, "Interpolation between latents: linear (lerp) and spherical (slerp)", labels)
    return run.save_figure(figure, "interpolation")


def draw_manifold(run, decoder, low, high, size=15):
    """Write `manifold.png`: decodings of a `size` x `size` grid of a 2-D latent.

    Args:
        low: the (2,) lower corner of the grid, per latent unit.
        high: the (2,) upper corner.
    """
    first = np.linspace(low[0], high[0], size)
    second = np.linspace(high[1], low[1], size)
    z = np.array([[a, b] for b in second for a in first], dtype="float32")
    images = latent.decode(decoder, z)
    rows = [images[start : start + size] for start in range(0, len(images), size)]
    figure = _image_grid(rows, "Decoded 2-D latent grid (z1 left to right, z2 top to bottom)", cell_inches=0.5)
    return run.save_figure(figure, "manifold")


def draw_arithmetic(run, decoder, originals, reconstructions, moved, title):
    """Write `arithmetic.png`: items, their reconstructions, the moved latents."""
    figure = _image_grid(
        [originals, reconstructions, moved], title, ["input", "decoded", "+ vector"]
    )
    return run.save_figure(figure, "arithmetic")


def draw_latent_scatter(run, z, labels, names):
    """Write `latent_scatter.png`: test latents (PCA to 2-D if needed), by class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if z.shape[1] > 2:
        from sklearn.decomposition import PCA

        points = PCA(n_components=2, random_state=0).fit_transform(z)
        axis_names = ("PC 1 of z", "PC 2 of z")
    elif z.shape[1] == 2:
        points, axis_names = z, ("z1", "z2")
    else:
        points = np.concatenate([z, np.zeros_like(z)], axis=1)
        axis_names = ("z1", "")

    figure, axis = plt.subplots(figsize=(6, 5))
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    # Small test sets (80 Olivetti faces) get larger dots to stay visible.
    dot_size = 3 if len(points) > 1000 else 16
    for label in np.unique(labels):
        mask = labels == label
        axis.scatter(
            points[mask, 0], points[mask, 1], s=dot_size, color=colours(label % colours.N), label=names[label]
        )
    axis.set_xlabel(axis_names[0])
    axis.set_ylabel(axis_names[1])
    title = "Test-set latents by class"
    if len(names) <= 10:
        axis.legend(markerscale=4 if dot_size == 3 else 1, fontsize=7)
    elif len(names) > colours.N:
        title += f" ({len(names)} classes, so {colours.N} colours repeat)"
    axis.set_title(title)
    return run.save_figure(figure, "latent_scatter")
