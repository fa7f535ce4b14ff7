"""Score exported artifacts with each recipe's own metric on its held-out data.

`zoo export --quantize` passes `artifact_scorer(run_dir)` to
`export.export_run`, which runs it on the float32 artifacts and again with
one part swapped for its quantized copy, and records both values and
their change (the contract is in `export.metric_change`). Each scorer uses
the held-out data and the metric function of the recipe's `evaluate`, so
its float32 value matches `metrics.json` up to the artifact's parity error:

- embedder (`triplet-faces`): verification ROC AUC and TAR at FAR 1e-2 over
  all pairs of the 100 photos of people s31-s40;
- embedder (`triplet-fashion`): Recall@1 on the test images of the held-out
  classes;
- encoder and decoder (autoencoders, VAEs): test reconstruction MSE per
  pixel, with the other part in float32;
- translator (pix2pix): L1 on the held-out pairs;
- classifier: test accuracy;
- generator (`gan-fashion`, `dcgan-fashion`, `stylegan-fashion`): FID and
  class coverage on the features of the `classifier-fashion` run named by
  `classifier_run`, against the real test images, through
  `recipes.gan_eval.FeatureScorer` as the recipe's evaluation computes
  them. Both files decode the same latents, the first
  `GENERATOR_SAMPLES[recipe]` of the evaluation's latents, so the change
  measures quantization and not sampling. With fewer samples than the evaluation
  the FID is biased upwards, so only the change is comparable with
  `metrics.json`, not the float32 value.
"""

import json
import logging
import pathlib

import numpy as np

from recipes.base import CONFIG_FILE
from zoo.errors import DataNotFoundError

logger = logging.getLogger(__name__)

# Images per artifact call, which bounds the memory for activations.
BATCH_SIZE = 500

AUTOENCODER_RECIPES = ("ae-fashion", "dae-fashion", "vae-fashion", "vae-faces")
FASHION_GENERATOR_RECIPES = ("gan-fashion", "dcgan-fashion", "stylegan-fashion")

# Generated images per scoring of a generator file, at most. One metric
# change covers data loading, the classifier features of the 10000 test
# images, then samples, features and FID for both files. For the release
# runs it took 24 s for dcgan-fashion at 2000 samples and 28 s for
# stylegan-fashion at 500, on 2 CPU cores shared with two training runs
# (TensorFlow 2.21, onnxruntime 1.31). gan-fashion was not timed. The int8
# StyleGAN file ran about 3 times slower than its float32 file.
GENERATOR_SAMPLES = {"gan-fashion": 2000, "dcgan-fashion": 2000, "stylegan-fashion": 500}
# StyleGAN generators are scored without truncation, the first psi of the recipe's evaluation.
STYLEGAN_PSI = 1.0


def artifact_scorer(run_dir):
    """Return the scorer of a run's exported artifacts, for `export_run(score_artifact=...)`.

    Held-out data is loaded on the first call and kept for later calls.

    Args:
        run_dir: a run folder with the `config.json` written by a recipe.

    Returns:
        A callable `scorer(part, predictors) -> dict`. For a recipe without
        an artifact metric it returns `{"skipped": reason}`.
    """
    record = json.loads((pathlib.Path(run_dir) / CONFIG_FILE).read_text())
    recipe = record.get("recipe")
    config = record.get("config", {})

    if recipe in ("triplet-faces", "triplet-faces-cnn"):
        return ArtifactScorer(config, ("embedder",), _faces_data, _verification_scores)
    if recipe == "triplet-fashion":
        return ArtifactScorer(config, ("embedder",), _fashion_retrieval_data, _retrieval_scores)
    if recipe in AUTOENCODER_RECIPES:
        return ArtifactScorer(config, ("encoder", "decoder"), _autoencoder_data, _reconstruction_scores)
    if recipe == "pix2pix-edges-fashion":
        return ArtifactScorer(config, ("generator",), _edge_pairs_data, _translation_scores)
    if recipe == "pix2pix-inpaint-faces":
        return ArtifactScorer(config, ("generator",), _inpaint_pairs_data, _translation_scores)
    if recipe == "classifier-fashion":
        return ArtifactScorer(config, ("classifier",), _classifier_data, _accuracy_scores)
    if recipe in FASHION_GENERATOR_RECIPES:
        return ArtifactScorer(dict(config, recipe=recipe), ("generator",), _generator_data, _generator_scores)
    if recipe == "stylegan-faces":
        return _skipping("recipe 'stylegan-faces' has no domain classifier, so it has no FID to compare")
    return _skipping(f"recipe {recipe!r} has no artifact metric")


class ArtifactScorer:
    """A recipe's metric computed from exported artifacts.

    Args:
        config: the recipe configuration from `config.json`.
        parts: the exportable parts the metric runs, in pipeline order.
        load: `load(config) -> (description, data)`, where `description`
            names the held-out data and its size.
        score: `score(data, predictors) -> {metric name: float}`.
    """

    def __init__(self, config, parts, load, score):
        self.config = config
        self.parts = tuple(parts)
        self.load = load
        self.score = score
        self._data = None

    def __call__(self, part, predictors):
        if part not in self.parts:
            return {"skipped": f"the recipe's metric runs the parts {list(self.parts)}, not '{part}'"}
        missing = [name for name in self.parts if name not in predictors]
        if missing:
            return {
                "skipped": f"the metric runs the parts {list(self.parts)}, but {missing} were not "
                "exported in the same call; export them together to measure it"
            }

        if self._data is None:
            try:
                self._data = self.load(self.config)
            except DataNotFoundError as error:
                logger.warning("No metric change for the quantized '%s': %s", part, error)
                message = " ".join(str(error).split())
                return {"skipped": f"the held-out data was not found: {message}"}
            except ScorerUnavailableError as error:
                logger.warning("No metric change for the quantized '%s': %s", part, error)
                return {"skipped": str(error)}
        description, data = self._data
        return {"data": description, "metrics": self.score(data, predictors)}


class ScorerUnavailableError(Exception):
    """A model that the metric needs, other than the artifacts, is missing."""


def _skipping(reason):
    def scorer(part, predictors):
        return {"skipped": reason}

    return scorer


def run_batched(predict, feed):
    """Run `predict` on `feed` in batches of `BATCH_SIZE` and join the outputs."""
    count = len(next(iter(feed.values())))
    batches = [
        predict({name: values[start : start + BATCH_SIZE] for name, values in feed.items()})
        for start in range(0, count, BATCH_SIZE)
    ]
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


# Embedders.


def _faces_data(config):
    from recipes.data import load_orl, split_orl_identities

    held_out = split_orl_identities(load_orl(config.get("data_dir") or None))["held_out"]
    description = f"ORL people s31-s40, never seen in training: {len(held_out)} photos, all pairs"
    return description, held_out


def _verification_scores(held_out, predictors):
    from zoo.metric import evaluation

    embeddings = run_batched(predictors["embedder"], {"images": held_out.images})["embeddings"]
    result = evaluation.verification(embeddings, held_out.labels)
    return {"auc": result["auc"], "tar_far_1e-2": result["tar_far_1e-2"]}


def _fashion_retrieval_data(config):
    from recipes.data import load_fashion_mnist, select

    test = load_fashion_mnist(config.get("data_dir") or None, split="test")
    test = select(test, np.isin(test.labels, config["test_classes"]))
    description = f"Fashion-MNIST test images of the held-out classes {config['test_classes']}: {len(test)}"
    return description, test


def _retrieval_scores(test, predictors):
    from zoo.metric import evaluation

    embeddings = run_batched(predictors["embedder"], {"images": test.images})["embeddings"]
    return {"recall_at_1": evaluation.recall_at_k(embeddings, test.labels)["recall_at_1"]}


# Autoencoders and VAEs.


def _autoencoder_data(config):
    from recipes.autoencoder import load_data

    _, test = load_data(config)
    return f"{config['dataset']} test images: {len(test)}", test.images


def _reconstruction_scores(images, predictors):
    """Return the MSE per pixel of decoder(encoder(images)), as `reconstruction_mse` computes it."""
    codes = run_batched(predictors["encoder"], {"images": images})
    # The VAE encoder returns `z_mean` and `z_log_var`, and the recipe
    # reconstructs from `z_mean`.
    z = codes["z"] if "z" in codes else codes["z_mean"]
    reconstructions = run_batched(predictors["decoder"], {"z": z})["images"]
    error = float(np.sum((reconstructions.astype("float64") - images) ** 2))
    return {"test_mse_per_pixel": error / images.size}


# Pix2pix translators.


def _edge_pairs_data(config):
    from recipes.data import load_fashion_mnist
    from recipes.gan import edge_pairs

    test = load_fashion_mnist(config.get("data_path") or None, split="test")
    edges, items = edge_pairs(test.images[: config["eval_pairs"]], config["edge_threshold"])
    return f"Fashion-MNIST test edge maps and items: {len(items)} pairs", (edges, items)


def _inpaint_pairs_data(config):
    from recipes.gan import face_pairs

    splits, _ = face_pairs(config)
    masked, full, _ = splits["eval"]
    description = f"masked ORL faces of the {config['eval_people']} held-out people: {len(full)} pairs"
    return description, (masked, full)


def _translation_scores(pairs, predictors):
    from zoo.gan import metrics

    inputs, targets = pairs
    translated = run_batched(predictors["generator"], {"images": inputs})["translated"]
    return {"l1": metrics.mean_absolute_error(translated, targets)}


# Classifier.


def _classifier_data(config):
    from recipes.classifier import load_split

    images, labels, _ = load_split(config, "test")
    return f"Fashion-MNIST test images: {len(labels)}", (images, labels)


def _accuracy_scores(test, predictors):
    images, labels = test
    logits = run_batched(predictors["classifier"], {"images": images})["logits"]
    return {"test_accuracy": float(np.mean(logits.argmax(axis=1) == labels))}


# Fashion-MNIST generators.


def _generator_data(config):
    """Return the FID scorer of the recipe's evaluation and the fixed latents of both scorings.

    Raises:
        ScorerUnavailableError: `classifier_run` has no `model.keras`.
    """
    from recipes import gan_eval
    from recipes.data import load_fashion_mnist
    from zoo import latent

    classifier_run = pathlib.Path(config["classifier_run"])
    if not (classifier_run / "model.keras").is_file():
        raise ScorerUnavailableError(
            f"FID needs the classifier-fashion run named by classifier_run, but {classifier_run} has no "
            "model.keras (a relative path is read from the current folder). Train it with `zoo train "
            f"classifier-fashion --out {classifier_run}`, or export from the folder it is relative to."
        )

    # The reference set and the latents of `evaluate_fashion_gan` and
    # `evaluate_fashion`: the test split cut to `reference_limit`, and
    # latents seeded with seed + 1, of which these are the first rows.
    reference = load_fashion_mnist(config.get("data_path") or None, split="test").images
    if config.get("reference_limit", 0) > 0:
        reference = reference[: config["reference_limit"]]
    scorer = gan_eval.FeatureScorer(classifier_run, reference)
    limit = GENERATOR_SAMPLES[config["recipe"]]
    num_samples = min(config.get("num_samples", limit), limit)
    z = latent.sample_prior(num_samples, int(config["latent_dim"]), seed=config.get("seed", 0) + 1)

    psi = f", psi {STYLEGAN_PSI}, cropped to 28x28" if config["recipe"] == "stylegan-fashion" else ""
    description = (
        f"{num_samples} samples from the same fixed z (seed {config.get('seed', 0) + 1}) for both files{psi}, "
        f"against {len(reference)} Fashion-MNIST test images, on the features of {classifier_run}"
    )
    return description, (scorer, z, config["recipe"])


def generator_samples(predict, z, recipe):
    """Return the images a generator artifact makes from `z`, as the classifier reads them.

    Args:
        predict: a `feed -> outputs` function of the generator artifact.
        z: float32 array (N, latent_dim).
        recipe: the run's recipe. `stylegan-fashion` images get psi
            `STYLEGAN_PSI` and are cropped from 32x32 to 28x28.

    Returns:
        float32 array (N, 28, 28, 1) in [0, 1].
    """
    if recipe != "stylegan-fashion":
        return run_batched(predict, {"z": z})["images"]

    from recipes.stylegan import crop_to_fashion

    psi = np.full((len(z), 1), STYLEGAN_PSI, dtype="float32")
    return crop_to_fashion(run_batched(predict, {"z": z, "psi": psi})["images"])


def _generator_scores(data, predictors):
    scorer, z, recipe = data
    scores = scorer.score(generator_samples(predictors["generator"], z, recipe))
    return {"fid": scores["fid"], "class_coverage": scores["class_coverage"]}
