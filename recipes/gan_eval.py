"""Scoring generated Fashion-MNIST images with the zoo classifier's features.

FID and KID compare classifier `features` of generated images with those of
the real test images. Class coverage is the normalised entropy of the
classes that the classifier predicts for the generated images. The same numbers
for real training images against the real test images are the floor that a
perfect generator would reach.
"""

import logging
import pathlib

import numpy as np

from recipes.base import RunFolder
from zoo import latent
from zoo.errors import InvalidConfigError
from zoo.gan import metrics

logger = logging.getLogger(__name__)

GENERATIVE_TASKS = ("generator", "decoder")


class FeatureScorer:
    """Classifier features and predicted classes, and the metrics built on them.

    Args:
        classifier_run: the run folder of recipe `classifier-fashion`.
        reference_images: the real images that generated images are compared with.
        kid_subset_size: rows per KID subset.
    """

    def __init__(self, classifier_run, reference_images, kid_subset_size=1000):
        path = pathlib.Path(classifier_run)
        if not (path / "model.keras").is_file():
            raise InvalidConfigError(
                f"The GAN metrics need a trained classifier, but {path} has no "
                "model.keras. Train one with `zoo train classifier-fashion --out "
                f"{path}`, or set classifier_run to an existing run folder."
            )
        self.classifier = RunFolder(path).load_model()
        self.classifier_run = str(path)
        self.kid_subset_size = kid_subset_size
        self.reference_features, _ = self.features_and_classes(reference_images)

    def features_and_classes(self, images):
        logits, features = self.classifier.predict_logits_and_features(images)
        return features.astype(np.float64), logits.argmax(axis=1)

    def classify(self, images):
        return self.features_and_classes(images)[1]

    def score(self, images):
        """Return FID, KID (and its spread over subsets) and class coverage of `images`."""
        features, classes = self.features_and_classes(images)
        kid, kid_std = metrics.kernel_inception_distance(
            self.reference_features, features, subset_size=self.kid_subset_size
        )
        counts = np.bincount(classes, minlength=self.classifier.num_classes)
        return {
            "fid": metrics.frechet_inception_distance(self.reference_features, features),
            "kid": kid,
            "kid_std": kid_std,
            "class_coverage": metrics.class_coverage(classes, self.classifier.num_classes),
            "class_counts": counts.tolist(),
            "num_samples": len(images),
        }


def generative_part(model):
    """Return the `ExportPart` of a training model that maps noise to images."""
    parts = model.exportable_parts() if hasattr(model, "exportable_parts") else {}
    for part in parts.values():
        if part.task in GENERATIVE_TASKS and "latent_dim" in part.metadata:
            return part
    raise InvalidConfigError(
        f"{type(model).__name__} has no exportable part of task {GENERATIVE_TASKS} "
        "with a `latent_dim`, so no samples can be drawn from it."
    )


def sample_run(run_dir, num_samples, seed=0):
    """Draw images from the prior of any run whose model has a generator or decoder part.

    This is the hook that scores other generative models (a VAE decoder, for
    example) with the same metrics as the GANs. `run_dir` may also be an
    exported `.onnx` generator or decoder with a `z` input, such as a
    released artifact, which is run with onnxruntime.

    Returns:
        float32 array (num_samples, H, W, C) in [0, 1].
    """
    if str(run_dir).endswith(".onnx"):
        return sample_onnx(run_dir, num_samples, seed=seed)
    model = RunFolder(run_dir).load_model()
    part = generative_part(model)
    z = latent.sample_prior(num_samples, int(part.metadata["latent_dim"]), seed=seed)
    return latent.decode(part.model, z)


def sample_onnx(path, num_samples, seed=0, batch_size=256):
    """Draw images from the prior of an exported generator or decoder `.onnx` file.

    The latent size comes from the file's `latent_dim` metadata, and the
    latents are those `sample_run` draws for a run folder with the same seed.

    Raises:
        InvalidConfigError: the file is missing or has no `z` input or
            `latent_dim` metadata.
    """
    import onnxruntime

    path = pathlib.Path(path)
    if not path.is_file():
        raise InvalidConfigError(f"Expected an exported generator .onnx file to score; {path} does not exist.")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    inputs = [item.name for item in session.get_inputs()]
    if inputs != ["z"] or "latent_dim" not in metadata:
        raise InvalidConfigError(
            f"Expected a generator or decoder with one input 'z' and latent_dim metadata in {path}. "
            f"Received inputs {inputs} and metadata keys {sorted(metadata)}."
        )

    z = latent.sample_prior(num_samples, int(metadata["latent_dim"]), seed=seed)
    images = [
        session.run(None, {"z": z[start : start + batch_size]})[0] for start in range(0, num_samples, batch_size)
    ]
    return np.concatenate(images).astype(np.float32)


def score_real_floor(scorer, train_images, num_samples, seed=0):
    """Score real training images as if they were samples: the floor of FID and KID."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(train_images), min(num_samples, len(train_images)), replace=False)
    return scorer.score(train_images[rows])


def score_other_runs(scorer, run_dirs, num_samples):
    """Score the samples of each run folder in `run_dirs`, by folder name."""
    results = {}
    for run_dir in run_dirs:
        logger.info("Scoring the samples of %s", run_dir)
        results[str(run_dir)] = scorer.score(sample_run(run_dir, num_samples))
    return results
