"""StyleGAN recipes: `stylegan-fashion` (Fashion-MNIST padded to 32x32) and `stylegan-faces` (Olivetti 64x64).

`stylegan-fashion` is scored like the other Fashion-MNIST generators: FID,
KID and class coverage on the features of the `classifier-fashion` run named
by `classifier_run`, against the real test images, beside the real-image
floor and the DCGAN release (its run folder, else the released ONNX
generator under artifacts/). The generated 32x32 images
are cropped back to the 28x28 centre that the classifier reads.
`stylegan-faces` has no domain classifier, so it reports how far samples lie
from their nearest training face, a check against memorisation.
"""

import logging
import pathlib

import numpy as np

from recipes import gan_eval, gan_pictures, stylegan_pictures
from recipes.base import CONFIG_FILE, HISTORY_FILE, Recipe, epoch_checkpoint, fit_verbosity
from recipes.classifier import record_data
from recipes.gan_data import pad_to
from zoo import latent

logger = logging.getLogger(__name__)

CLASSIFIER_RUN = "runs/classifier-fashion/release"
DCGAN_RUN = "runs/dcgan-fashion/release"
# The released DCGAN, scored in its place when its run folder is not here.
DCGAN_ARTIFACT = "artifacts/dcgan-fashion-mnist/generator.onnx"
FASHION_SIZE = 32
FASHION_ORIGINAL_SIZE = 28
SAMPLE_GRID_SIZE = 64
EVAL_PSI_VALUES = (1.0, 0.7)

_MODEL_DEFAULTS = {
    "batch_size": 32,
    "latent_dim": 64,
    "w_dim": 64,
    "mapping_layers": 4,
    "filters": 16,
    "max_filters": 128,
    "mixing_probability": 0.9,
    "r1_gamma": 0.2,
    "r1_interval": 4,
    "w_avg_beta": 0.995,
    "learning_rate": 2e-3,
    "beta_1": 0.0,
    "beta_2": 0.99,
    "interpolation": "bilinear",
    # Samples, pictures and exports come from a moving average of the
    # generator's weights with this half-life in images (see zoo.stylegan.StyleGAN).
    "ema_half_life": 10000,
    "ema_rampup": 0.05,
    "seed": 0,
    # "" searches the default places (see recipes.data.locate).
    "data_path": "",
}

FASHION_DEFAULTS = dict(
    _MODEL_DEFAULTS,
    # The stylegan-fashion-mnist release: about 80 minutes on 2 CPU cores under TensorFlow.
    epochs=12,
    # 0 uses the whole split; a positive value keeps the first N images.
    train_limit=0,
    reference_limit=0,
    num_samples=10000,
    classifier_run=CLASSIFIER_RUN,
    # Other generator run folders or exported .onnx generators scored the same way; the DCGAN release joins.
    compare_runs=[],
)

FACES_DEFAULTS = dict(
    _MODEL_DEFAULTS,
    epochs=100,
    filters=8,
    r1_gamma=1.0,
    # 800 faces with flips: a 10,000-image half-life would span 12 epochs.
    ema_half_life=2000,
    # Horizontal flips double the 400 faces; a face mirrored is still a face.
    flip=True,
    num_samples=256,
)


def _build_model(config, image_shape):
    from zoo.stylegan import StyleGAN

    return StyleGAN(
        latent_dim=config["latent_dim"],
        w_dim=config["w_dim"],
        mapping_layers=config["mapping_layers"],
        image_shape=image_shape,
        filters=config["filters"],
        max_filters=config["max_filters"],
        mixing_probability=config["mixing_probability"],
        r1_gamma=config["r1_gamma"],
        r1_interval=config["r1_interval"],
        w_avg_beta=config["w_avg_beta"],
        learning_rate=config["learning_rate"],
        beta_1=config["beta_1"],
        beta_2=config["beta_2"],
        interpolation=config["interpolation"],
        ema_half_life=config["ema_half_life"],
        ema_rampup=config["ema_rampup"],
        seed=config["seed"],
    )


def _fit(run, config, images):
    # Every batch must split into minibatch-stddev groups, so drop the remainder.
    images = images[: len(images) // config["batch_size"] * config["batch_size"]]
    model = _build_model(config, images.shape[1:])
    # The default jit_compile="auto" resolves to False under torch, whose
    # torch.compile has no double backward, which R1 needs.
    model.compile()
    fixed_z = latent.sample_prior(SAMPLE_GRID_SIZE, model.latent_dim, seed=config["seed"])
    history = model.fit(
        images,
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        shuffle=True,
        callbacks=[gan_pictures.SampleGridCallback(run, fixed_z), epoch_checkpoint(run)],
        verbose=fit_verbosity(2),
    )
    run.write_json(HISTORY_FILE, history.history)
    run.save_model(model)
    return model


# Fashion-MNIST.


def _fashion_split(config, split, limit_key):
    from recipes.data import load_fashion_mnist

    data = load_fashion_mnist(config["data_path"] or None, split=split)
    limit = config[limit_key]
    return (data.images[:limit] if limit > 0 else data.images), data


def crop_to_fashion(images):
    """Cut the 28x28 centre out of 32x32 images, undoing `pad_to`."""
    offset = (FASHION_SIZE - FASHION_ORIGINAL_SIZE) // 2
    return images[:, offset : offset + FASHION_ORIGINAL_SIZE, offset : offset + FASHION_ORIGINAL_SIZE]


def train_fashion(run, config):
    import keras

    keras.utils.set_random_seed(config["seed"])
    images, data = _fashion_split(config, "train", "train_limit")
    images = pad_to(images, FASHION_SIZE, FASHION_SIZE)
    record_data(
        run,
        {
            "name": "fashion-mnist",
            "source": data.source,
            "train_images": len(images),
            "preprocessing": f"zero-padded from 28x28 to {FASHION_SIZE}x{FASHION_SIZE}",
        },
    )
    _fit(run, config, images)


def _comparison_runs(config):
    """Return `compare_runs` plus the DCGAN release: its run folder, else its released ONNX generator."""
    runs = list(config["compare_runs"])
    if (pathlib.Path(DCGAN_RUN) / "model.keras").is_file():
        dcgan = DCGAN_RUN
    elif pathlib.Path(DCGAN_ARTIFACT).is_file():
        dcgan = DCGAN_ARTIFACT
    else:
        return runs
    if dcgan not in runs:
        runs.append(dcgan)
    return runs


def evaluate_fashion(run):
    """Return FID, KID and class coverage at psi 1.0 and 0.7, the real floor and the comparison runs."""
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    stylegan_pictures.draw_all(run, model)

    classifier_run = pathlib.Path(config["classifier_run"])
    if not (classifier_run / "model.keras").is_file():
        logger.warning(
            "No classifier at %s, so FID, KID and class coverage are skipped. Train one with "
            "`zoo train classifier-fashion --out %s`, then run `zoo evaluate %s`.",
            classifier_run, classifier_run, run.path,
        )
        return {"skipped": f"no classifier-fashion model at {classifier_run}"}

    reference, _ = _fashion_split(config, "test", "reference_limit")
    train_images, _ = _fashion_split(config, "train", "train_limit")
    scorer = gan_eval.FeatureScorer(classifier_run, reference)

    # Score on fresh latents, not those of the epoch grids.
    z = latent.sample_prior(config["num_samples"], model.latent_dim, seed=config["seed"] + 1)
    generator_scores = {
        f"psi_{psi:.1f}": scorer.score(crop_to_fashion(model.generate(z, psi=psi))) for psi in EVAL_PSI_VALUES
    }
    return {
        "generator": generator_scores,
        "real_train_vs_test": gan_eval.score_real_floor(
            scorer, train_images, config["num_samples"], seed=config["seed"]
        ),
        "other_runs": gan_eval.score_other_runs(scorer, _comparison_runs(config), config["num_samples"]),
        "classifier_run": scorer.classifier_run,
        "reference_images": len(reference),
        "feature_space": "classifier-fashion features (not Inception-v3), generated images cropped to 28x28",
    }


# Olivetti faces.


def _faces(config):
    from recipes.data import load_olivetti

    data = load_olivetti(config["data_path"] or None)
    images = data.images
    if config["flip"]:
        images = np.concatenate([images, images[:, :, ::-1]])
    return images, data


def train_faces(run, config):
    import keras

    keras.utils.set_random_seed(config["seed"])
    images, data = _faces(config)
    record_data(
        run,
        {
            "name": "olivetti-faces",
            "source": data.source,
            "train_images": len(images),
            "augmentation": "every face and its horizontal mirror" if config["flip"] else "none",
        },
    )
    _fit(run, config, images)


def nearest_distances(samples, references, batch_size=256):
    """Return the RMS pixel distance of each sample to its nearest reference image."""
    flat_references = references.reshape(len(references), -1).astype(np.float64)
    reference_norms = np.sum(flat_references**2, axis=1)
    distances = []
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size].reshape(-1, flat_references.shape[1]).astype(np.float64)
        squared = np.sum(batch**2, axis=1)[:, None] - 2.0 * batch @ flat_references.T + reference_norms[None, :]
        distances.append(np.sqrt(np.maximum(squared.min(axis=1), 0.0) / flat_references.shape[1]))
    return np.concatenate(distances)


def evaluate_faces(run):
    """Return the distances of samples to their nearest training face, at psi 1.0 and 0.7."""
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    stylegan_pictures.draw_all(run, model)
    images, data = _faces(config)

    z = latent.sample_prior(config["num_samples"], model.latent_dim, seed=config["seed"] + 1)
    result = {}
    for psi in EVAL_PSI_VALUES:
        distances = nearest_distances(model.generate(z, psi=psi), images)
        result[f"psi_{psi:.1f}"] = {
            "mean_nearest_train_rms": float(distances.mean()),
            "min_nearest_train_rms": float(distances.min()),
        }

    # The same distance from a photo to the other photos gives the scale. It
    # uses the photos without mirrors, whose own mirror would be the nearest.
    rng = np.random.default_rng(config["seed"])
    rows = rng.choice(len(data.images), min(64, len(data.images)), replace=False)
    others = np.delete(data.images, rows, axis=0)
    result["real_faces_to_other_faces_rms"] = float(nearest_distances(data.images[rows], others).mean())
    result["num_samples"] = config["num_samples"]
    return result


STYLEGAN_FASHION = Recipe(
    name="stylegan-fashion",
    description="Style-based generator on Fashion-MNIST padded to 32x32, scored with FID, KID and coverage.",
    defaults=FASHION_DEFAULTS,
    train=train_fashion,
    evaluate=evaluate_fashion,
)
STYLEGAN_FACES = Recipe(
    name="stylegan-faces",
    description="Style-based generator on the Olivetti faces, 64x64, with flip augmentation.",
    defaults=FACES_DEFAULTS,
    train=train_faces,
    evaluate=evaluate_faces,
)
