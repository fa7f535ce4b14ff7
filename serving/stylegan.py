"""`StyleGenerator`: sampling with truncation and style mixing from an exported StyleGAN.

The exporter writes the three parts of a StyleGAN as `<part>.onnx` in one
folder, each with `part_role`, `latent_dim`, `w_dim`, `num_ws` and
`style_resolutions` in its metadata:

- `generator.onnx`: `z (N, latent_dim)` and `psi (N, 1)` -> `images`;
- `mapping.onnx`: `z` and `psi` -> `w (N, w_dim)`, truncated around the
  w_avg tracked in training: w_avg + psi (f(z) - w_avg);
- `synthesis.onnx`: `ws (N, num_ws, w_dim)`, one w per synthesis layer,
  -> `images`, float32 NHWC in [0, 1].

`sample`, `decode` and `interpolate` need the generator only; `map`,
`synthesize` and `mix` need the mapping and synthesis parts beside it.
"""

import pathlib

import numpy as np

from serving.errors import InvalidInputError, InvalidModelError
from serving.generative import Decoder, check_image_output, check_latents
from serving.runtime import OnnxModel

GENERATOR_FILE = "generator.onnx"
MAPPING_FILE = "mapping.onnx"
SYNTHESIS_FILE = "synthesis.onnx"
SIDE_PART_ROLES = ("mapping", "synthesis")

# The accepted truncation psi, w = w_avg + psi (w - w_avg). Usual values lie in
# [0, 1], where 1 keeps w and 0 gives w_avg. psi = -1 mirrors w about w_avg and
# psi = 2 doubles its distance from w_avg. Further out, w lies far from the styles
# the synthesis network saw in training, and psi near the float32 maximum
# overflows w. NOTE: the bounds are a choice that leaves room to extrapolate, not
# a limit measured on a model.
PSI_MIN = -1.0
PSI_MAX = 2.0

# The generator and mapping + synthesis are two float32 graphs of one
# network, so they differ by rounding only (below 1e-6 in the tests).
_PARTS_TOLERANCE = 1e-4


def style_part_role(model):
    """Return the StyleGAN part an `OnnxModel` is: "generator", "mapping", "synthesis", or None.

    A generator is a `zoo_task=generator` model with a `psi` input; the
    mapping and synthesis parts name themselves in their `part_role` metadata.
    """
    if model.task == "generator" and "psi" in model.inputs:
        return "generator"
    role = model.metadata.get("part_role")
    return role if role in SIDE_PART_ROLES else None


def load_generator(path, providers=None, batch_size=64):
    """Open a decoder or generator file with the wrapper its metadata calls for.

    Args:
        path: the `.onnx` file, or an artifact folder whose decoder or
            generator part is opened (see `serving.runtime.find_part`).
        providers: onnxruntime execution providers.
        batch_size: latents per session run.

    Returns:
        A `StyleGenerator` for a StyleGAN generator, else a `Decoder`.

    Raises:
        InvalidModelError: `path` is a StyleGAN mapping or synthesis part,
            or not a decoder or generator.
    """
    # NOTE: reading the metadata opens one extra session on the file.
    model = OnnxModel(path, providers, tasks=("decoder", "generator"))
    path = model.path
    role = style_part_role(model)
    if role == "generator":
        return StyleGenerator(path, providers=providers, batch_size=batch_size)
    if role in SIDE_PART_ROLES:
        raise InvalidModelError(
            f"{path} is the {role} part of a StyleGAN. Pass the generator part (generator.onnx "
            "in the same folder), which reads this file for map, synthesize and mix."
        )
    return Decoder(path, providers=providers, batch_size=batch_size)


def check_psi(psi, count):
    """Validate the truncation psi and return it as float32 (count, 1).

    Args:
        psi: a number from PSI_MIN (-1) to PSI_MAX (2), or one per latent
            with shape (count,) or (count, 1). 1 keeps w, 0 gives w_avg for
            every latent, values in between trade variety for typical
            images, and values outside [0, 1] extrapolate.
        count: the number of latents.

    Raises:
        InvalidInputError: psi is not a number, has another shape, is NaN or inf, or is outside [PSI_MIN, PSI_MAX].
    """
    array = np.asarray(psi)
    if isinstance(psi, (bool, np.bool_)) or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise InvalidInputError(f"psi must be a finite number, for example 0.7. Received: {psi!r}")
    if array.ndim == 0:
        array = np.full((count, 1), array)
    elif array.shape in ((count,), (count, 1)):
        array = array.reshape(count, 1)
    else:
        raise InvalidInputError(
            f"psi must be one number or one per latent, shape ({count},) or ({count}, 1). "
            f"Received shape {array.shape}."
        )
    if not np.isfinite(array).all() or array.min() < PSI_MIN or array.max() > PSI_MAX:
        raise InvalidInputError(
            f"psi must be a finite number from {PSI_MIN:g} to {PSI_MAX:g}, where 1 keeps w, 0 gives w_avg "
            f"and values outside [0, 1] extrapolate. Received: {psi!r}. Use a psi from 0.5 to 1 for typical images."
        )
    return array.astype(np.float32)


def check_crossover(crossover, num_ws):
    """Validate a crossover layer index and return it as an int in [0, num_ws].

    Layers 0 .. crossover-1 take the styles of the row source and layers
    crossover .. num_ws-1 those of the column source, so 0 gives the
    column source's image and num_ws the row source's image.

    Raises:
        InvalidInputError: crossover is not an integer or is outside [0, num_ws].
    """
    if isinstance(crossover, (bool, np.bool_)) or not isinstance(crossover, (int, np.integer)):
        raise InvalidInputError(
            f"crossover must be an integer layer index from 0 to {num_ws}. Received: {crossover!r}"
        )
    if not 0 <= crossover <= num_ws:
        raise InvalidInputError(
            f"crossover must be from 0 to {num_ws} (num_ws from the model metadata): layers before "
            f"it take the row styles, layers from it on the column styles. Received: {crossover}"
        )
    return int(crossover)


def latents_from_seeds(seeds, latent_dim):
    """Return one latent per seed, float32 (len(seeds), latent_dim).

    Row i is `numpy.random.default_rng(seeds[i]).standard_normal(latent_dim)`,
    the latent that `sample(1, seed=seeds[i])` draws.
    """
    return np.stack(
        [np.random.default_rng(int(seed)).standard_normal(latent_dim) for seed in seeds]
    ).astype(np.float32)


def source_latents(sources, latent_dim, name):
    """Turn mixing sources into latents (count, latent_dim).

    Args:
        sources: a list or 1-D array of integer seeds (see
            `latents_from_seeds`), or latents of shape (count, latent_dim).
        latent_dim: the model's latent size.
        name: the argument name for error messages, "rows" or "columns".

    Raises:
        InvalidInputError: neither seeds nor latents, a negative seed, or
            latents of the wrong size or with NaN or inf.
    """
    expected = f"a list of integer seeds or latents of shape (count, {latent_dim})"
    try:
        array = np.asarray(sources)
    except ValueError as error:
        raise InvalidInputError(f"{name} must be {expected}. Received a ragged list: {error}") from error
    if array.ndim == 1 and array.size > 0 and np.issubdtype(array.dtype, np.integer):
        if (array < 0).any():
            raise InvalidInputError(f"{name} seeds must be >= 0. Received: {array.tolist()}")
        return latents_from_seeds(array, latent_dim)
    if array.ndim == 2:
        return check_latents(array, latent_dim)
    raise InvalidInputError(
        f"{name} must be {expected}. Received an array of shape {array.shape} and dtype {array.dtype}."
    )


def mix_styles(w_rows, w_columns, crossover, num_ws):
    """Return the styles of every (row, column) pair, float32 (R, C, num_ws, w_dim).

    Layers before `crossover` take w_rows[i] and layers from it on take
    w_columns[j].
    """
    coarse = np.broadcast_to(w_rows[:, None, None, :], (len(w_rows), len(w_columns), num_ws, w_rows.shape[1]))
    fine = np.broadcast_to(w_columns[None, :, None, :], coarse.shape)
    from_rows = (np.arange(num_ws) < crossover)[None, None, :, None]
    return np.where(from_rows, coarse, fine).astype(np.float32)


def _run_feeds_in_batches(model, feeds, output_name, batch_size):
    """Run `model` on equal-length `feeds` in chunks along axis 0 and return one output."""
    count = len(next(iter(feeds.values())))
    chunks = []
    for start in range(0, count, batch_size):
        chunk = {name: value[start : start + batch_size] for name, value in feeds.items()}
        chunks.append(model.run(chunk, [output_name])[output_name])
    return np.concatenate(chunks, axis=0)


class StyleGenerator(Decoder):
    """Sample with truncation and mix styles with an exported StyleGAN.

    Args:
        path: the generator part: `zoo_task=generator`, inputs `z` and
            `psi`, output `images` in [0, 1].
        providers: onnxruntime execution providers. Default: CUDA when usable.
        batch_size: latents per session run.
        mapping_path: the mapping part. Default: `mapping.onnx` beside
            `path`, when that file exists.
        synthesis_path: the synthesis part. Default: `synthesis.onnx`
            beside `path`, when that file exists.

    Attributes:
        latent_dim: the size of z.
        w_dim: the size of w.
        num_ws: the number of synthesis layers that take a style.
        style_resolutions: per style index, the resolution of the
            convolutions it modulates, a tuple of num_ws ints.
        default_crossover: num_ws // 2, the crossover of `mix` when none is
            given, as in the training recipe's style-mixing pictures.
        mapping: the mapping part's `OnnxModel`, or None when absent.
        synthesis: the synthesis part's `OnnxModel`, or None when absent.

    Raises:
        InvalidModelError: `path` is not a StyleGAN generator, or a mapping
            or synthesis part disagrees with it in its sizes or its outputs.
    """

    def __init__(self, path, providers=None, batch_size=64, mapping_path=None, synthesis_path=None):
        super().__init__(path, providers=providers, batch_size=batch_size)
        self.model.require_io(inputs=["z", "psi"])
        self.w_dim = self.model.metadata_int("w_dim")
        self.num_ws = self.model.metadata_int("num_ws")
        self.style_resolutions = self._read_style_resolutions()
        self.default_crossover = self.num_ws // 2

        folder = self.path.parent
        self.mapping = self._open_part(
            "mapping", mapping_path, folder / MAPPING_FILE, providers, ["z", "psi"], ["w"]
        )
        self.synthesis = self._open_part(
            "synthesis", synthesis_path, folder / SYNTHESIS_FILE, providers, ["ws"], ["images"]
        )
        if self.mapping is not None and self.synthesis is not None:
            self._check_parts_agree()

    @property
    def can_mix(self):
        """True when the mapping and synthesis parts are loaded, so `mix` works."""
        return self.mapping is not None and self.synthesis is not None

    def decode(self, z, psi=1.0):
        """Generate images from latents, truncated with `psi`.

        Args:
            z: float array of shape (N, latent_dim) or (latent_dim,).
            psi: the truncation, one finite number or one per latent, see `check_psi`.

        Returns:
            float32 array of shape (N, H, W, C) with values in [0, 1].

        Raises:
            InvalidInputError: a latent of the wrong size, NaN or inf in z, or an invalid psi.
        """
        z = check_latents(z, self.latent_dim)
        feeds = {"z": z, "psi": check_psi(psi, len(z))}
        images = _run_feeds_in_batches(self.model, feeds, "images", self.batch_size)
        return check_image_output(images, self.path, "images")

    def decode_rows(self, rows):
        """Generate images from rows (N, latent_dim + 1): a latent followed by its psi.

        The HTTP micro-batcher groups requests with different psi into one
        session run this way.
        """
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.latent_dim + 1:
            raise InvalidInputError(
                f"Expected rows of shape (N, {self.latent_dim + 1}), a latent and its psi; "
                f"received shape {rows.shape}."
            )
        return self.decode(rows[:, :-1], psi=rows[:, -1])

    def sample(self, n, seed=0, psi=1.0):
        """Generate `n` images from latents drawn from N(0, I), truncated with `psi`.

        The same seed gives the same latents at every psi, so psi = 0 gives
        n copies of the image of w_avg. `seed` comes second, as in
        `Decoder.sample`, so that either wrapper takes the same call.

        Returns:
            float32 array of shape (n, H, W, C) in [0, 1].
        """
        return self.decode(self.sample_latents(n, seed), psi)

    def interpolate(self, z0=None, z1=None, steps=8, method="linear", seed=0, psi=1.0):
        """Generate a path of `steps` latents from z0 to z1, truncated with `psi`; see `Decoder.interpolate`."""
        return self.decode(self.path_latents(z0, z1, steps, method, seed), psi)

    def map(self, z, psi=1.0):
        """Map latents to truncated styles w = w_avg + psi (f(z) - w_avg).

        Returns:
            float32 array of shape (N, w_dim).

        Raises:
            InvalidModelError: the mapping part is not loaded.
            InvalidInputError: invalid z or psi.
        """
        mapping = self._require_part("mapping")
        z = check_latents(z, self.latent_dim)
        feeds = {"z": z, "psi": check_psi(psi, len(z))}
        w = _run_feeds_in_batches(mapping, feeds, "w", self.batch_size)
        if w.shape != (len(z), self.w_dim):
            raise InvalidModelError(
                f"{mapping.path} returned 'w' of shape {w.shape}; expected ({len(z)}, {self.w_dim})."
            )
        if not np.isfinite(w).all():
            # check_latents and check_psi pass any finite z, so a huge z can still overflow float32 in the mapping.
            raise InvalidModelError(
                f"{mapping.path} returned NaN or inf in 'w' for these latents and psi={psi!r}. "
                "Use a psi near 1 (0.5 to 1 is usual) and latents drawn from N(0, I)."
            )
        return w.astype(np.float32, copy=False)

    def synthesize(self, ws):
        """Generate images from styles: one w per synthesis layer, or one w for all.

        Args:
            ws: float array (N, num_ws, w_dim), or (N, w_dim) to use each w
                for every layer.

        Returns:
            float32 array of shape (N, H, W, C) in [0, 1].

        Raises:
            InvalidModelError: the synthesis part is not loaded.
            InvalidInputError: ws of another shape, or with NaN or inf.
        """
        synthesis = self._require_part("synthesis")
        ws = np.asarray(ws, dtype=np.float32)
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            ws = np.repeat(ws[:, None, :], self.num_ws, axis=1)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim) or len(ws) == 0:
            raise InvalidInputError(
                f"Expected styles of shape (N, {self.num_ws}, {self.w_dim}) or (N, {self.w_dim}) "
                f"with N >= 1 (num_ws and w_dim from the model metadata); received shape {ws.shape}."
            )
        if not np.isfinite(ws).all():
            raise InvalidInputError("Styles contain non-finite values (NaN or inf).")
        images = _run_feeds_in_batches(synthesis, {"ws": ws}, "images", self.batch_size)
        return check_image_output(images, synthesis.path, "images")

    def mix(self, rows, columns, crossover=None, psi=1.0):
        """Generate a style-mixing grid: coarse styles from each row source, fine from each column source.

        Args:
            rows: the row sources, integer seeds or latents (R, latent_dim),
                see `source_latents`.
            columns: the column sources, in the same forms (C sources).
            crossover: the first synthesis layer styled by the column
                source, from 0 to num_ws. Default: `default_crossover`.
                num_ws gives every row source's own image.
            psi: the truncation of both sources, one finite number.

        Returns:
            float32 array (R, C, H, W, channels) in [0, 1]: image [i, j]
            takes layers 0 .. crossover-1 from row i and the rest from column j.

        Raises:
            InvalidModelError: the mapping or synthesis part is not loaded.
            InvalidInputError: invalid sources, crossover or psi.
        """
        mixed, _, _ = self._mix(rows, columns, crossover, psi)
        return mixed

    def mixing_grid(self, rows, columns, crossover=None, psi=1.0):
        """Return the tiles of a style-mixing figure with its sources, for `save_grid(tiles, ncols=C + 1)`.

        The top row shows a blank tile, then the column sources; each next
        row shows a row source, then its C mixed images. Arguments as `mix`.

        Returns:
            float32 array ((R + 1) * (C + 1), H, W, channels) in [0, 1].
        """
        mixed, row_images, column_images = self._mix(rows, columns, crossover, psi)
        blank = np.ones_like(row_images[:1])
        tiles = [blank, column_images]
        for index, row_image in enumerate(row_images):
            tiles += [row_image[None], mixed[index]]
        return np.concatenate(tiles)

    def _mix(self, rows, columns, crossover, psi):
        """Return the mixed images (R, C, H, W, ch) and the source images of the rows and of the columns."""
        self._require_part("mapping")
        self._require_part("synthesis")
        crossover = self.default_crossover if crossover is None else check_crossover(crossover, self.num_ws)
        if np.ndim(psi) != 0:
            raise InvalidInputError(f"psi of a mixing grid must be one number. Received shape {np.shape(psi)}.")
        z_rows = source_latents(rows, self.latent_dim, "rows")
        z_columns = source_latents(columns, self.latent_dim, "columns")

        w_rows = self.map(z_rows, psi)
        w_columns = self.map(z_columns, psi)
        ws = mix_styles(w_rows, w_columns, crossover, self.num_ws)
        mixed = self.synthesize(ws.reshape(-1, self.num_ws, self.w_dim))
        mixed = mixed.reshape(len(w_rows), len(w_columns), *mixed.shape[1:])
        return mixed, self.synthesize(w_rows), self.synthesize(w_columns)

    def _read_style_resolutions(self):
        text = self.model.metadata.get("style_resolutions")
        if text is None:
            return None
        try:
            resolutions = tuple(int(value) for value in text.split(","))
        except ValueError as error:
            raise InvalidModelError(
                f"{self.path} metadata 'style_resolutions' must be comma-separated integers. Received: {text!r}"
            ) from error
        if len(resolutions) != self.num_ws:
            raise InvalidModelError(
                f"{self.path} metadata 'style_resolutions' has {len(resolutions)} entries but num_ws is "
                f"{self.num_ws}. Export the model again."
            )
        return resolutions

    def _open_part(self, role, path, default_path, providers, inputs, outputs):
        """Open and check the mapping or synthesis part; return None when it is neither given nor found."""
        if path is None:
            if not default_path.is_file():
                return None
            path = default_path
        part = OnnxModel(pathlib.Path(path), providers)
        found_role = part.metadata.get("part_role")
        if found_role != role:
            raise InvalidModelError(
                f"{part.path} has part_role={found_role!r} in its metadata; expected {role!r}, the "
                f"StyleGAN {role} part exported with {self.path.name}."
            )
        part.require_io(inputs=inputs, outputs=outputs)
        for key in ("latent_dim", "w_dim", "num_ws"):
            if part.metadata_int(key) != getattr(self, key):
                raise InvalidModelError(
                    f"{part.path} has {key}={part.metadata_int(key)} but the generator {self.path} has "
                    f"{key}={getattr(self, key)}. Use the parts of one export together."
                )
        return part

    def _check_parts_agree(self):
        """Raise unless mapping then synthesis reproduces the generator on a probe latent.

        Equal sizes in the metadata do not show that the three files come
        from one training run; equal outputs do.
        """
        z = self.sample_latents(2, seed=0)
        psi = np.array([1.0, 0.5], dtype=np.float32)
        expected = self.decode(z, psi)
        received = self.synthesize(self.map(z, psi))
        difference = float(np.max(np.abs(expected - received)))
        if not difference <= _PARTS_TOLERANCE:
            raise InvalidModelError(
                f"The mapping and synthesis parts beside {self.path} do not reproduce the generator "
                f"(maximum difference {difference:.3g} > {_PARTS_TOLERANCE:g}), so they come from "
                "another run. Export the parts of one run into one folder."
            )

    def _require_part(self, role):
        part = self.mapping if role == "mapping" else self.synthesis
        if part is None:
            file_name = MAPPING_FILE if role == "mapping" else SYNTHESIS_FILE
            raise InvalidModelError(
                f"Style mixing needs the StyleGAN {role} part, but {self.path.parent / file_name} "
                f"does not exist. Export the run's {role} part beside {self.path.name} "
                f"(zoo export RUN_DIR), or pass {role}_path= to StyleGenerator."
            )
        return part
