"""Pictures of the StyleGAN recipes: truncation grids, style mixing, interpolation in z and w."""

import numpy as np

from recipes import gan_pictures
from zoo import latent
from zoo.stylegan.model import mix_styles

PSI_VALUES = (1.0, 0.7, 0.5)


def truncation_grids(run, model, count=32, columns=8, seed=3):
    """Draw the same latents at each psi of `PSI_VALUES`, one picture per psi."""
    z = latent.sample_prior(count, model.latent_dim, seed=seed)
    paths = []
    for psi in PSI_VALUES:
        images = model.generate(z, psi=psi)
        title = f"StyleGAN samples, truncation psi = {psi}"
        paths.append(gan_pictures.save_grid(run, f"samples_psi_{psi:.1f}", images, columns, title))
    return paths


def style_mixing_grid(run, model, rows=5, columns=6, crossover=None, psi=0.7, seed=4):
    """Draw a style-mixing grid.

    The top row shows the column sources and the left column the row
    sources. The image in row i and column j takes the coarse styles (the
    synthesis layers before `crossover`) from row source i and the fine
    styles from column source j.

    Args:
        run: the `RunFolder`.
        model: a trained `StyleGAN`.
        rows: row sources.
        columns: column sources.
        crossover: the first layer styled by the column source; default
            num_ws // 2, which splits at about half the resolutions.
        psi: the truncation of both sources.
        seed: the latent seed.
    """
    crossover = model.num_ws // 2 if crossover is None else crossover
    z = latent.sample_prior(rows + columns, model.latent_dim, seed=seed)
    w = model.truncate(model.map(z), psi)
    w_rows, w_columns = w[:rows], w[rows:]

    # Every (row, column) pair: coarse styles from the row, fine from the column.
    coarse = np.repeat(w_rows, columns, axis=0)
    fine = np.tile(w_columns, (rows, 1))
    mixed = model.synthesize(mix_styles(coarse, fine, crossover, model.num_ws))
    row_images = model.synthesize(w_rows)
    column_images = model.synthesize(w_columns)

    blank = np.ones_like(row_images[:1])
    grid = [blank, column_images]
    for row in range(rows):
        grid += [row_images[row : row + 1], mixed[row * columns : (row + 1) * columns]]
    title = (
        f"Style mixing: coarse styles (layers < {crossover}) from the left column, "
        f"fine styles from the top row, psi = {psi}"
    )
    return gan_pictures.save_grid(run, "style_mixing", np.concatenate(grid), columns + 1, title)


def interpolation_grids(run, model, rows=5, steps=10, seed=5):
    """Draw paths between latent pairs: slerp in z (then mapped) and lerp in w, same end points."""
    ends = latent.sample_prior(2 * rows, model.latent_dim, seed=seed)
    z_paths = np.concatenate([latent.slerp(ends[2 * i], ends[2 * i + 1], steps) for i in range(rows)])
    z_picture = gan_pictures.save_grid(
        run, "interpolation_z", model.generate(z_paths), steps, "Spherical interpolation in z"
    )

    w_ends = model.map(ends)
    w_paths = np.concatenate([latent.lerp(w_ends[2 * i], w_ends[2 * i + 1], steps) for i in range(rows)])
    w_picture = gan_pictures.save_grid(
        run, "interpolation_w", model.synthesize(w_paths), steps, "Linear interpolation in w, same end points"
    )
    return z_picture, w_picture


def draw_all(run, model):
    """Draw every StyleGAN picture into the run folder."""
    truncation_grids(run, model)
    style_mixing_grid(run, model)
    interpolation_grids(run, model)
