"""MegaFace-style identification: rank-1 of held-out probes as distractors grow.

The protocol follows MegaFace (Kemelmacher-Shlizerman et al., 2016) at the
scale of ORL: the gallery contains the enrolment templates of all 40 people
(photos 1-3, as in `triplet-faces`'s evaluation) plus N distractor faces,
each its own identity. A probe (photos 4-10 of the held-out people
s31-s40) counts at rank 1 when its own template is nearer than every other
template and every distractor. The distractor sets are nested (the first
N of one list), so rank-1 can only fall as N grows.

Distractors come from a folder of face images (read with `serving.images`)
or, with `"generated"`, from strongly augmented photos of the training
people s1-s30. Generated distractors repeat 30 people under random shifts,
flips, brightness, contrast and pixel noise: they test robustness to many
near-duplicates, not to many new identities, and the report says so.
"""

import logging
import pathlib

import numpy as np

from recipes.base import CONFIG_FILE, RunFolder
from zoo.errors import InvalidConfigError, InvalidInputError

logger = logging.getLogger(__name__)

FACE_RECIPES = ("triplet-faces", "triplet-faces-cnn")
REPORT_FILE = "megaface.json"
IMAGE_SUFFIXES = (".pgm", ".png", ".jpg", ".jpeg", ".bmp")

# Distractors embedded per model call and compared per NumPy block.
CHUNK_SIZE = 4096

# Stronger than the `triplet-faces` training augmentation, so that generated
# distractors are rarely exact copies of a training photo.
GENERATED_AUGMENTATION = {"max_shift": 12, "flip_probability": 0.5, "brightness": 0.2, "contrast": 0.4}
GENERATED_NOISE = 0.05


def distractor_counts(maximum):
    """Return 10, 100, 1000, ... up to `maximum`, and `maximum` itself."""
    if not isinstance(maximum, int) or maximum < 10:
        raise InvalidConfigError(f"The number of distractors must be an integer >= 10. Received: {maximum!r}")
    counts = []
    count = 10
    while count < maximum:
        counts.append(count)
        count *= 10
    return counts + [maximum]


def image_files(folder):
    """Return the sorted image files under `folder`, searched recursively."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(
            f"Distractor folder {folder} does not exist. Pass a folder of face images or 'generated'."
        )
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(
            f"Distractor folder {folder} contains no {'/'.join(IMAGE_SUFFIXES)} files."
        )
    return files


def folder_distractors(folder, image_shape, maximum):
    """Yield float32 image chunks (n, H, W, C) read from `folder`, at most `maximum` images."""
    from serving.images import prepare_images

    files = image_files(folder)[:maximum]
    height, width, channels = image_shape
    for start in range(0, len(files), CHUNK_SIZE):
        yield prepare_images(files[start : start + CHUNK_SIZE], height, width, channels)


def generated_distractors(faces, maximum, seed):
    """Yield float32 image chunks of augmented `faces`, `maximum` images in all."""
    from recipes.data import AugmentConfig
    from recipes.data.augment import augment

    config = AugmentConfig(**GENERATED_AUGMENTATION)
    rng = np.random.default_rng(seed)
    for start in range(0, maximum, CHUNK_SIZE):
        count = min(CHUNK_SIZE, maximum - start)
        sources = faces[rng.integers(0, len(faces), size=count)]
        images = augment(sources, rng, config)
        images += rng.normal(scale=GENERATED_NOISE, size=images.shape).astype(np.float32)
        yield np.clip(images, 0.0, 1.0)


def nearest_distractor_distances(probes, distractor_chunks, counts):
    """Find each probe's distance to its nearest distractor among the first n, for each n in `counts`.

    Args:
        probes: (P, D) unit embeddings.
        distractor_chunks: an iterable of (n_i, D) unit embeddings, in order.
        counts: increasing distractor counts.

    Returns:
        `(distances, seen)`: the distance array, and the number of
        distractors the chunks held. Counts above `seen` get the value at `seen`.
    """
    from zoo.metric.evaluation import pairwise_distances

    nearest = np.full(len(probes), np.inf)
    columns = []
    seen = 0
    pending = list(counts)
    for chunk in distractor_chunks:
        distances = pairwise_distances(probes, chunk)
        running = np.minimum.accumulate(distances, axis=1)
        running = np.minimum(running, nearest[:, None])
        while pending and pending[0] <= seen + len(chunk):
            columns.append(running[:, pending.pop(0) - seen - 1])
        nearest = running[:, -1]
        seen += len(chunk)
    while pending:
        pending.pop(0)
        columns.append(nearest.copy())
    return np.stack(columns, axis=1), seen


def rank_1_curve(enrol, enrol_labels, probes, probe_labels, distractor_chunks, counts, mode="mean"):
    """Compute rank-1 of the probes with 0 and then `counts` distractors.

    Returns:
        A dict with `counts` (starting at 0), `rank_1` (one value per
        count) and `distractors_seen`.
    """
    from zoo.metric.evaluation import gallery_templates, pairwise_distances

    templates, template_labels = gallery_templates(enrol, enrol_labels, mode)
    distances = pairwise_distances(probes, templates)
    own = template_labels[None, :] == probe_labels[:, None]
    if not own.any(1).all():
        raise InvalidInputError("Every probe identity must be enrolled.")
    genuine = np.where(own, distances, np.inf).min(1)
    impostor = np.where(own, np.inf, distances).min(1)

    nearest, seen = nearest_distractor_distances(probes, distractor_chunks, counts)
    rank_1 = [float(np.mean(genuine < impostor))]
    for column in range(nearest.shape[1]):
        rank_1.append(float(np.mean(genuine < np.minimum(impostor, nearest[:, column]))))
    return {"counts": [0, *counts], "rank_1": rank_1, "distractors_seen": seen}


def evaluate_megaface(run_dir, distractors="generated", max_distractors=100_000, seed=0):
    """Run the MegaFace-style evaluation of a `triplet-faces` or `triplet-faces-cnn` run.

    Writes `megaface.json` and `pictures/megaface.png` into the run folder.

    Args:
        run_dir: a run folder of the `triplet-faces` recipe.
        distractors: a folder of face images, or "generated".
        max_distractors: the largest distractor count, >= 10.
        seed: the seed of the generated distractors.

    Returns:
        The report dict: `counts`, `rank_1`, `distractors` (what they were).
    """
    from recipes.data import load_orl, split_orl_identities

    run = RunFolder(run_dir)
    run_config = run.read_json(CONFIG_FILE)
    if run_config.get("recipe") not in FACE_RECIPES:
        raise InvalidConfigError(
            f"evaluate-megaface needs a run of {' or '.join(FACE_RECIPES)}; {run_dir} is a "
            f"{run_config.get('recipe')!r} run."
        )
    config = run_config["config"]
    counts = distractor_counts(max_distractors)
    split = split_orl_identities(load_orl(config["data_dir"]))
    embedder = run.load_model().embedder
    image_shape = tuple(embedder.input_shape[1:])

    def embed(images):
        return embedder.predict(images, batch_size=256, verbose=0)

    if distractors == "generated":
        chunks = generated_distractors(split["train"].images, max_distractors, seed)
        description = (
            f"{max_distractors} augmented photos of the ORL training people s1-s30 (shift up to "
            f"{GENERATED_AUGMENTATION['max_shift']} px, flips, brightness, contrast, Gaussian noise "
            f"sigma {GENERATED_NOISE}); near-duplicates of 30 people, not new identities"
        )
    else:
        chunks = folder_distractors(distractors, image_shape, max_distractors)
        description = f"face images from {pathlib.Path(distractors).resolve()}"

    logger.info("Embedding up to %d distractors: %s", max_distractors, description)
    curve = rank_1_curve(
        embed(split["enrol"].images), split["enrol"].labels,
        embed(split["probes"].images), split["probes"].labels,
        (embed(chunk) for chunk in chunks), counts, mode=config.get("gallery", "mean"),
    )
    report = {
        **curve,
        "distractors": description,
        "probes": "ORL photos 4-10 of the held-out people s31-s40",
        "gallery": "ORL photos 1-3 of all 40 people, one template per person, plus the distractors",
    }
    if curve["distractors_seen"] < max_distractors:
        report["note"] = (
            f"Only {curve['distractors_seen']} distractors were available; larger counts reuse that set."
        )
    run.write_json(REPORT_FILE, report)
    run.save_figure(rank_1_figure(report), "megaface")
    return report


def rank_1_figure(report):
    """Plot rank-1 against the number of distractors (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(report["counts"][1:])
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.semilogx(counts, report["rank_1"][1:], marker="o", label="with distractors")
    axis.axhline(report["rank_1"][0], linestyle="--", color="grey", label="no distractors")
    axis.set_xlabel("distractors in the gallery")
    axis.set_ylabel("rank-1 identification rate")
    axis.set_ylim(0.0, 1.02)
    axis.set_title("MegaFace-style identification, ORL s31-s40 probes")
    axis.legend(loc="lower left")
    figure.tight_layout()
    return figure
