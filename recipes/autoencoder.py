"""Recipes for the convolutional autoencoder, the denoising AE and the VAE.

- `ae-fashion`: autoencoder, Fashion-MNIST, latent 16, MSE loss;
- `dae-fashion`: the same with Gaussian input noise in training;
- `vae-fashion`: VAE, Fashion-MNIST, latent 16 (`--set latent_dim=2` adds
  the 2-D manifold picture);
- `vae-faces`: VAE, Olivetti faces 64x64; photos 9 and 10 of each person
  are the test set.

Evaluation (`metrics.json`): test reconstruction MSE per pixel against PCA
with the same number of components; for the denoising AE also the MSE of
test images corrupted by its training noise, before and after denoising; K-means (K = number of classes) on
the test latents against K-means on raw pixels (NMI, ARI); for the VAE the
test ELBO and the importance-weighted (IWAE) bound on the NLL, in nats per
image, with the KL per latent unit, the count of active units and the
binary entropy of the grey test pixels, the floor below which no Bernoulli
decoder can bring the NLL.
"""

import logging

import numpy as np

from recipes import autoencoder_metrics as metrics
from recipes import autoencoder_pictures as pictures
from recipes.base import CONFIG_FILE, HISTORY_FILE, Recipe, fit_verbosity
from zoo import latent
from zoo.errors import InvalidConfigError

logger = logging.getLogger(__name__)

# Olivetti photos with these numbers (1..10 per person) form the test set.
FACES_TEST_PHOTOS = (9, 10)

_COMMON = {
    "latent_dim": 16,
    "filters": [16, 32],
    "hidden_units": 256,
    "epochs": 5,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "train_size": 0,
    "test_size": 0,
    "data_dir": "",
    "seed": 0,
    "kmeans_size": 5000,
    "kmeans_n_init": 5,
    "picture_count": 10,
}
_AE = {"reconstruction_loss": "mse", "noise": "", "noise_level": 0.0}
_VAE = {"beta": 1.0, "kl_warmup_steps": 1000, "iwae_samples": 64, "iwae_size": 1000}
_FASHION = {"dataset": "fashion-mnist", "arithmetic": ["Sneaker", "Sandal"]}
_FACES = {
    "dataset": "olivetti",
    "arithmetic": [],
    "filters": [32, 64, 128],
    "latent_dim": 32,
    "epochs": 150,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "kl_warmup_steps": 500,
}


def load_data(config):
    """Return `(train, test)` `LabelledImages` for `config["dataset"]`."""
    from recipes.data import load_fashion_mnist, load_olivetti, select

    path = config["data_dir"] or None
    if config["dataset"] == "fashion-mnist":
        train = load_fashion_mnist(path, split="train")
        test = load_fashion_mnist(path, split="test")
    elif config["dataset"] == "olivetti":
        faces = load_olivetti(path)
        is_test = np.isin(faces.photo_ids, FACES_TEST_PHOTOS)
        train, test = select(faces, ~is_test), select(faces, is_test)
    else:
        raise InvalidConfigError(
            f"dataset must be 'fashion-mnist' or 'olivetti'. Received: {config['dataset']!r}"
        )

    # The loaders return a fixed order; a seeded shuffle makes a size cut a
    # random subset with every class present.
    rng = np.random.default_rng(config["seed"])
    train = select(train, _first(rng.permutation(len(train)), config["train_size"]))
    test = select(test, _first(rng.permutation(len(test)), config["test_size"]))
    return train, test


def build_model(kind, config, input_shape):
    """Build the `Autoencoder`, `DenoisingAutoencoder` or `VAE` of a recipe."""
    from zoo.autoencoder import VAE, Autoencoder

    shared = dict(
        input_shape=input_shape,
        latent_dim=config["latent_dim"],
        filters=config["filters"],
        hidden_units=config["hidden_units"],
        learning_rate=config["learning_rate"],
        seed=config["seed"],
    )
    if kind == "vae":
        return VAE(beta=config["beta"], kl_warmup_steps=config["kl_warmup_steps"], name="vae", **shared)
    return Autoencoder(
        reconstruction_loss=config["reconstruction_loss"],
        noise=config["noise"] or None,
        noise_level=config["noise_level"],
        name="denoising_autoencoder" if config["noise"] else "autoencoder",
        **shared,
    )


def train(run, config, kind):
    """Fit the model of `kind` ("ae" or "vae"), then write model, history, pictures."""
    import keras

    keras.utils.set_random_seed(config["seed"])
    train_set, test_set = load_data(config)
    _record_data(run, config, train_set, test_set)

    model = build_model(kind, config, train_set.images.shape[1:])
    model.compile()
    history = model.fit(
        train_set.images,
        batch_size=config["batch_size"],
        epochs=config["epochs"],
        shuffle=True,
        verbose=fit_verbosity(2),
    )
    run.write_json(
        HISTORY_FILE,
        {name: [float(value) for value in values] for name, values in history.history.items()},
    )
    run.save_model(model)
    draw_pictures(run, model, kind, config, train_set, test_set)


def evaluate(run, kind):
    """Return the metrics of the run's `model.keras` on the test set."""
    config = run.read_json(CONFIG_FILE)["config"]
    model = run.load_model()
    train_set, test_set = load_data(config)
    images = test_set.images

    results = {
        "test_images": len(images),
        "latent_dim": config["latent_dim"],
        "test_mse_per_pixel": metrics.reconstruction_mse(model, images),
        "pca_mse_per_pixel": metrics.pca_mse(
            train_set.images, images, config["latent_dim"], config["seed"]
        ),
    }

    # A denoising autoencoder is also scored on its task: clean images
    # back from inputs corrupted by its training noise.
    if kind == "ae" and config["noise"]:
        results.update(metrics.denoising_mse(model, images))

    cut = _first(np.arange(len(images)), config["kmeans_size"])
    z = metrics.encode_all(model, images[cut])
    results.update(
        metrics.clustering_scores(
            z, images[cut], test_set.labels[cut], config["kmeans_n_init"], config["seed"]
        )
    )

    if kind == "vae":
        iwae_cut = _first(np.arange(len(images)), config["iwae_size"])
        results.update(
            metrics.vae_scores(model, images, images[iwae_cut], config["iwae_samples"], config["seed"])
        )
    logger.info("Test metrics: %s", results)
    return results


def draw_pictures(run, model, kind, config, train_set, test_set):
    """Write every picture of the run into `pictures/`."""
    parts = model.exportable_parts()
    encoder, decoder = parts["encoder"].model, parts["decoder"].model
    count = min(config["picture_count"], len(test_set))
    inputs = test_set.images[:count]
    test_z = latent.encode(encoder, test_set.images)
    pictures.draw_reconstructions(run, inputs, latent.decode(decoder, test_z[:count]))

    # The VAE samples its N(0, I) prior. The plain autoencoder has no prior,
    # so it samples a Gaussian fitted to its training latents instead.
    latent_dim = config["latent_dim"]
    if kind == "vae":
        z = latent.sample_prior(32, latent_dim, seed=config["seed"])
        pictures.draw_samples(run, decoder, z, "Decoded samples of the prior N(0, I)")
    else:
        train_z = latent.encode(encoder, train_set.images[:5000])
        rng = np.random.default_rng(config["seed"])
        z = rng.multivariate_normal(train_z.mean(0), np.cov(train_z, rowvar=False), size=32)
        pictures.draw_samples(
            run, decoder, z.astype("float32"), "Decoded samples of a Gaussian fitted to training latents"
        )

    pairs = [(test_z[2 * i], test_z[2 * i + 1]) for i in range(min(3, len(test_z) // 2))]
    if kind == "vae":
        prior = latent.sample_prior(2, latent_dim, seed=config["seed"] + 1)
        pairs.append((prior[0], prior[1]))
    pictures.draw_interpolations(run, decoder, pairs)

    if latent_dim == 2:
        if kind == "vae":
            # Grid at the 5 % .. 95 % quantiles of the N(0, 1) prior.
            low, high = np.full(2, -1.645), np.full(2, 1.645)
        else:
            low, high = np.percentile(test_z, 5, axis=0), np.percentile(test_z, 95, axis=0)
        pictures.draw_manifold(run, decoder, low, high)

    pictures.draw_latent_scatter(run, test_z, test_set.labels, test_set.names)
    if config["arithmetic"]:
        _draw_arithmetic(run, encoder, decoder, config, test_set, test_z)


def _draw_arithmetic(run, encoder, decoder, config, test_set, test_z):
    """Write the `with minus without` example, e.g. sneaker minus sandal."""
    with_name, without_name = config["arithmetic"]
    for name in (with_name, without_name):
        if name not in test_set.names:
            raise InvalidConfigError(
                f"arithmetic names must be classes of the data set {test_set.names}. Received: {name!r}"
            )
    with_mask = test_set.labels == test_set.names.index(with_name)
    without_mask = test_set.labels == test_set.names.index(without_name)
    if not with_mask.any() or not without_mask.any():
        logger.warning("No test images of %s or %s; skipping arithmetic.png", with_name, without_name)
        return

    vector = latent.attribute_vector(test_z[with_mask], test_z[without_mask])
    targets = np.flatnonzero(without_mask)[: config["picture_count"]]
    moved = latent.apply_attribute(test_z[targets], vector)
    pictures.draw_arithmetic(
        run,
        decoder,
        test_set.images[targets],
        latent.decode(decoder, test_z[targets]),
        latent.decode(decoder, moved),
        f"{without_name} latents + (mean {with_name} - mean {without_name})",
    )


def _record_data(run, config, train_set, test_set):
    """Add the data description to `config.json`."""
    record = run.read_json(CONFIG_FILE)
    record["data"] = {
        "dataset": config["dataset"],
        "source": train_set.source,
        "train_images": len(train_set),
        "test_images": len(test_set),
        "image_shape": list(train_set.images.shape[1:]),
        "classes": list(train_set.names),
    }
    run.write_json(CONFIG_FILE, record)


def _first(indices, size):
    """Return the first `size` indices, or all of them when `size` is 0."""
    return indices if size <= 0 else indices[:size]


def _ae_train(run, config):
    train(run, config, "ae")


def _ae_evaluate(run):
    return evaluate(run, "ae")


def _vae_train(run, config):
    train(run, config, "vae")


def _vae_evaluate(run):
    return evaluate(run, "vae")


AE_FASHION = Recipe(
    name="ae-fashion",
    description="Convolutional autoencoder on Fashion-MNIST (latent 16, MSE)",
    defaults={**_COMMON, **_AE, **_FASHION},
    train=_ae_train,
    evaluate=_ae_evaluate,
)
DAE_FASHION = Recipe(
    name="dae-fashion",
    description="Denoising autoencoder on Fashion-MNIST (Gaussian noise 0.3)",
    defaults={**_COMMON, **_AE, **_FASHION, "noise": "gaussian", "noise_level": 0.3},
    train=_ae_train,
    evaluate=_ae_evaluate,
)
VAE_FASHION = Recipe(
    name="vae-fashion",
    description="Variational autoencoder on Fashion-MNIST (latent 16; latent_dim=2 for the manifold)",
    defaults={**_COMMON, **_VAE, **_FASHION},
    train=_vae_train,
    evaluate=_vae_evaluate,
)
VAE_FACES = Recipe(
    name="vae-faces",
    description="Variational autoencoder on the Olivetti faces, 64x64",
    defaults={**_COMMON, **_VAE, **_FACES},
    train=_vae_train,
    evaluate=_vae_evaluate,
)
