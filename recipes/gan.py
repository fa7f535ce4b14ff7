"""GAN recipes: `gan-fashion`, `dcgan-fashion`, `pix2pix-edges-fashion`, `pix2pix-inpaint-faces`.

The Fashion-MNIST generators are scored with FID, KID and class coverage on
the features of the `classifier-fashion` run named by `classifier_run`,
against the real test images. Real training images scored the same way
give the floor. The pix2pix recipes report L1 and SSIM on held-out pairs,
next to the baseline that returns the input unchanged.
"""

import logging

import numpy as np

from recipes import gan_data, gan_eval, gan_pictures
from recipes.base import CONFIG_FILE, HISTORY_FILE, Recipe, epoch_checkpoint, fit_verbosity
from recipes.classifier import record_data
from zoo import latent
from zoo.gan import metrics

logger = logging.getLogger(__name__)

CLASSIFIER_RUN = "runs/classifier-fashion/release"
SAMPLE_GRID_SIZE = 64

_FASHION_GAN_DEFAULTS = {
    "epochs": 5,
    "batch_size": 128,
    "latent_dim": 100,
    "discriminator_steps": 1,
    "generator_loss": "non_saturating",
    "real_target": 1.0,
    "learning_rate": 2e-4,
    "beta_1": 0.5,
    # 0 uses the whole split; a positive value keeps the first N images.
    "train_limit": 0,
    "reference_limit": 0,
    "num_samples": 10000,
    "classifier_run": CLASSIFIER_RUN,
    # Other run folders (a VAE, say) whose generator or decoder is scored the same way.
    "compare_runs": [],
    "seed": 0,
    # "" searches the default places (see recipes.data.locate).
    "data_path": "",
}

GAN_DEFAULTS = dict(_FASHION_GAN_DEFAULTS, real_target=0.9)
# dcgan-fashion-mnist was released from 15 epochs: FID 125 against 179 after 8.
DCGAN_DEFAULTS = dict(_FASHION_GAN_DEFAULTS, epochs=15, filters=32, real_target=0.9)

PIX2PIX_EDGES_DEFAULTS = {
    "epochs": 3,
    "batch_size": 32,
    "l1_weight": 100.0,
    "generator_filters": 32,
    "discriminator_filters": 32,
    "learning_rate": 2e-4,
    "beta_1": 0.5,
    # Sobel magnitude, relative to its maximum, above which a pixel is an edge.
    "edge_threshold": 0.25,
    "train_limit": 12000,
    "eval_pairs": 2000,
    "seed": 0,
    "data_path": "",
}

PIX2PIX_INPAINT_DEFAULTS = {
    "epochs": 30,
    "batch_size": 16,
    "image_size": 64,
    "mask_fraction": 0.4,
    "l1_weight": 100.0,
    "generator_filters": 32,
    "discriminator_filters": 32,
    "learning_rate": 2e-4,
    "beta_1": 0.5,
    # People (ORL subjects) held out for evaluation; the others train.
    "eval_people": 5,
    "seed": 0,
    "data_path": "",
}


def _fashion_split(config, split, limit_key):
    from recipes.data import load_fashion_mnist

    data = load_fashion_mnist(config["data_path"] or None, split=split)
    limit = config[limit_key]
    return (data.images[:limit] if limit > 0 else data.images), data


def _drop_remainder(images, batch_size):
    # Every batch must split into `discriminator_steps` equal slices.
    return images[: len(images) // batch_size * batch_size]


# Fashion-MNIST generators.


def _build_generator_model(config, image_shape, convolutional):
    from zoo.gan import DCGAN, GAN

    arguments = dict(
        latent_dim=config["latent_dim"],
        image_shape=image_shape,
        discriminator_steps=config["discriminator_steps"],
        generator_loss=config["generator_loss"],
        real_target=config["real_target"],
        learning_rate=config["learning_rate"],
        beta_1=config["beta_1"],
        seed=config["seed"],
    )
    if convolutional:
        return DCGAN(filters=config["filters"], **arguments)
    return GAN(**arguments)


def _train_fashion_gan(run, config, convolutional):
    import keras

    keras.utils.set_random_seed(config["seed"])
    images, data = _fashion_split(config, "train", "train_limit")
    images = _drop_remainder(images, config["batch_size"])
    record_data(run, {"name": "fashion-mnist", "source": data.source, "train_images": len(images)})

    model = _build_generator_model(config, images.shape[1:], convolutional)
    model.compile()
    fixed_noise = latent.sample_prior(SAMPLE_GRID_SIZE, model.latent_dim, seed=config["seed"])
    history = model.fit(
        images,
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        shuffle=True,
        callbacks=[gan_pictures.SampleGridCallback(run, fixed_noise), epoch_checkpoint(run)],
        verbose=fit_verbosity(2),
    )
    run.write_json(HISTORY_FILE, history.history)
    run.save_model(model)


def train_gan(run, config):
    _train_fashion_gan(run, config, convolutional=False)


def train_dcgan(run, config):
    _train_fashion_gan(run, config, convolutional=True)


def evaluate_fashion_gan(run):
    """Return FID, KID and class coverage of the generator, the real floor and other runs."""
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    reference, data = _fashion_split(config, "test", "reference_limit")
    train_images, _ = _fashion_split(config, "train", "train_limit")
    scorer = gan_eval.FeatureScorer(config["classifier_run"], reference)

    # Score the generator on fresh noise, not the noise of the epoch grids.
    part = model.exportable_parts()["generator"]
    z = latent.sample_prior(config["num_samples"], model.latent_dim, seed=config["seed"] + 1)
    samples = latent.decode(part.model, z)
    generator_scores = scorer.score(samples)

    result = {
        "generator": generator_scores,
        "real_train_vs_test": gan_eval.score_real_floor(
            scorer, train_images, config["num_samples"], seed=config["seed"]
        ),
        "other_runs": gan_eval.score_other_runs(scorer, config["compare_runs"], config["num_samples"]),
        "classifier_run": scorer.classifier_run,
        "reference_images": len(reference),
        "feature_space": "classifier-fashion features (not Inception-v3)",
    }

    gan_pictures.save_grid(run, "samples", samples[:SAMPLE_GRID_SIZE], 8, f"{type(model).__name__} samples")
    gan_pictures.interpolation_strips(run, part.model, model.latent_dim, seed=config["seed"])
    gan_pictures.latent_arithmetic(run, part.model, scorer.classify, data.names, model.latent_dim)
    return result


# Pix2pix on Fashion-MNIST edges.


def edge_pairs(images, threshold, size=32):
    """Return `(edges, items)`: Sobel edge maps and the items, padded to `size`."""
    items = gan_data.pad_to(images, size, size)
    return gan_data.sobel_edges(items, threshold), items


def _build_pix2pix(config, image_shape):
    from zoo.gan import Pix2Pix

    return Pix2Pix(
        image_shape=image_shape,
        l1_weight=config["l1_weight"],
        generator_filters=config["generator_filters"],
        discriminator_filters=config["discriminator_filters"],
        learning_rate=config["learning_rate"],
        beta_1=config["beta_1"],
    )


def _fit_pix2pix(run, config, inputs, targets):
    model = _build_pix2pix(config, inputs.shape[1:])
    model.compile()
    history = model.fit(
        inputs,
        targets,
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        shuffle=True,
        verbose=fit_verbosity(2),
    )
    run.write_json(HISTORY_FILE, history.history)
    run.save_model(model)


def train_pix2pix_edges(run, config):
    import keras

    keras.utils.set_random_seed(config["seed"])
    images, data = _fashion_split(config, "train", "train_limit")
    edges, items = edge_pairs(images, config["edge_threshold"])
    record_data(
        run,
        {
            "name": "fashion-mnist edges",
            "source": data.source,
            "train_pairs": len(items),
            "input": f"Sobel magnitude > {config['edge_threshold']} of the max, padded to 32x32",
            "target": "the item, padded to 32x32",
        },
    )
    _fit_pix2pix(run, config, edges, items)


def translation_scores(translated, inputs, targets, masks=None):
    """Return L1 and SSIM of the translations and of the identity baseline."""
    scores = {
        "l1": metrics.mean_absolute_error(translated, targets),
        "ssim": metrics.structural_similarity(translated, targets),
        "baseline_input_l1": metrics.mean_absolute_error(inputs, targets),
        "baseline_input_ssim": metrics.structural_similarity(inputs, targets),
        "pairs": len(targets),
    }
    if masks is not None:
        inside = masks[..., 0] > 0.5
        scores["masked_region_l1"] = float(np.mean(np.abs(translated - targets)[..., 0][inside]))
        scores["baseline_masked_region_l1"] = float(np.mean(np.abs(inputs - targets)[..., 0][inside]))
    return scores


def evaluate_pix2pix_edges(run):
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    from recipes.data import load_fashion_mnist

    test = load_fashion_mnist(config["data_path"] or None, split="test")
    edges, items = edge_pairs(test.images[: config["eval_pairs"]], config["edge_threshold"])
    translated = model.translate(edges)
    gan_pictures.translation_triples(run, edges, translated, items)
    return {"test": translation_scores(translated, edges, items)}


# Pix2pix inpainting of ORL faces.


def face_pairs(config):
    """Return train and held-out `(masked, faces, masks)`, split by person."""
    from recipes.data import load_orl

    faces = load_orl(config["data_path"] or None)
    size = config["image_size"]
    images = gan_data.resize_images(faces.images, size, size)
    held_out = faces.labels >= faces.num_classes - config["eval_people"]
    rng = np.random.default_rng(config["seed"])

    splits = {}
    for name, rows in (("train", ~held_out), ("eval", held_out)):
        masked, masks = gan_data.mask_region(images[rows], rng, config["mask_fraction"])
        splits[name] = (masked, images[rows], masks)
    return splits, faces


def train_pix2pix_inpaint(run, config):
    import keras

    keras.utils.set_random_seed(config["seed"])
    splits, faces = face_pairs(config)
    masked, full, _ = splits["train"]
    record_data(
        run,
        {
            "name": "orl faces, masked",
            "source": faces.source,
            "train_pairs": len(full),
            "eval_people": config["eval_people"],
            "input": f"{config['image_size']}x{config['image_size']} face with a blank square "
            f"of side {config['mask_fraction']} of the image",
            "target": "the full face",
        },
    )
    _fit_pix2pix(run, config, masked, full)


def evaluate_pix2pix_inpaint(run):
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    splits, _ = face_pairs(config)
    masked, full, masks = splits["eval"]
    translated = model.translate(masked)
    gan_pictures.translation_triples(run, masked, translated, full)
    return {"held_out_people": translation_scores(translated, masked, full, masks)}


GAN_FASHION = Recipe(
    name="gan-fashion",
    description="Original MLP GAN (Goodfellow et al. 2014) on Fashion-MNIST.",
    defaults=GAN_DEFAULTS,
    train=train_gan,
    evaluate=evaluate_fashion_gan,
)
DCGAN_FASHION = Recipe(
    name="dcgan-fashion",
    description="DCGAN on Fashion-MNIST, scored with FID, KID and class coverage.",
    defaults=DCGAN_DEFAULTS,
    train=train_dcgan,
    evaluate=evaluate_fashion_gan,
)
PIX2PIX_EDGES_FASHION = Recipe(
    name="pix2pix-edges-fashion",
    description="Pix2pix from Sobel edge maps back to Fashion-MNIST items.",
    defaults=PIX2PIX_EDGES_DEFAULTS,
    train=train_pix2pix_edges,
    evaluate=evaluate_pix2pix_edges,
)
PIX2PIX_INPAINT_FACES = Recipe(
    name="pix2pix-inpaint-faces",
    description="Pix2pix inpainting of a masked square in ORL faces, 64x64.",
    defaults=PIX2PIX_INPAINT_DEFAULTS,
    train=train_pix2pix_inpaint,
    evaluate=evaluate_pix2pix_inpaint,
)
