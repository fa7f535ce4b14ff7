"""Evaluation of the triplet recipes on data never seen in training.

`evaluate_faces` scores the ORL embedder on people s31-s40 and the
Eigenfaces baseline under the same protocol; `evaluate_fashion` scores
retrieval on the Fashion-MNIST test images of the held-out classes. Both
write their pictures and return the `metrics.json` dict.
"""

import logging

import numpy as np

from recipes.base import CONFIG_FILE
from zoo.errors import InvalidConfigError
from zoo.metric import evaluation

logger = logging.getLogger(__name__)

# The release goal of `triplet-faces` on s31-s40, and of `triplet-fashion`.
FACES_GOALS = {"rank_1": 0.98, "auc": 0.99, "tar_far_1e-2": 0.90}
# Written by `train_faces` when `validation_folds` is set.
VALIDATION_FILE = "validation.json"
CROSS_VALIDATION_KEYS = ("auc", "tar_far_1e-2", "tar_far_1e-3", "rank_1", "rank_5")
FASHION_GOALS = {"recall_at_1": 0.95}

# The open-set test cuts the held-out people s31-s40 into this many groups,
# and each split leaves one group (2 people) out of its gallery.
OPEN_SET_SPLITS = 5

EIGENFACES_COMPONENTS = 64
EIGENFACES_SIZE = (56, 46)


def evaluate_faces(run):
    """Score the run's face embedder on ORL people s31-s40.

    Args:
        run: a `RunFolder` holding `model.keras` and `config.json`.

    Returns:
        The metrics dict. Top-level keys: `auc`, `eer`, `tar_far_1e-2`,
        `tar_far_1e-3`, `threshold_far_1e-2`, `threshold_far_1e-3`
        (distance thresholds, accept when distance <= threshold),
        `rank_1`, `rank_5`, `rank_1_all_photos`, `open_set` (see
        `zoo.metric.evaluation.open_set_identification`: DIR at FPIR 1e-2
        and 1e-3 with their thresholds and the search counts, None for a
        rate with fewer than 1/FPIR non-mated searches), `nmi`,
        `ari`, `eigenfaces` (the same figures for the baseline) and
        `goals_met`. When the run cross-validated its settings,
        `cross_validation` holds the number of folds and the mean and
        standard deviation of the fold scores on training people.
    """
    from recipes.data import load_orl, split_orl_identities

    config = run.read_json(CONFIG_FILE)["config"]
    faces = load_orl(config["data_dir"] or None)
    split = split_orl_identities(faces)
    model = run.load_model()

    def embed(images):
        return model.embedder.predict(images, batch_size=100, verbose=0)

    logger.info("Embedding the %d held-out and %d enrolment faces", len(split["held_out"]), len(split["enrol"]))
    metrics, curves = face_metrics(embed, split, config["gallery"])

    baseline = evaluation.eigenfaces(split["train"].images, EIGENFACES_COMPONENTS, EIGENFACES_SIZE)
    eigenfaces, baseline_curves = face_metrics(baseline, split, config["gallery"])
    metrics["eigenfaces"] = eigenfaces

    for fpir in evaluation.FAR_TARGETS:
        if metrics["open_set"][f"threshold_fpir_{evaluation.far_key(fpir)}"] is None:
            logger.warning(
                "Open set: FPIR %g is not reported (null in metrics.json) because it needs at least %d "
                "non-mated searches and there are %d.",
                fpir, evaluation.minimum_searches(fpir), metrics["open_set"]["non_mated_searches"],
            )
    metrics["goals_met"] = {name: metrics[name] >= goal for name, goal in FACES_GOALS.items()}
    if (run.path / VALIDATION_FILE).is_file():
        metrics.update(_cross_validation(run.read_json(VALIDATION_FILE), run.path))

    from zoo.metric import pictures

    held_out = split["held_out"]
    run.save_figure(
        pictures.projection_figure(curves["held_out_embeddings"], held_out.labels, held_out.names,
                                   "Held-out people s31-s40 (PCA of the embeddings)"),
        "projection",
    )
    run.save_figure(
        pictures.roc_figure({
            "triplet embedder": (*curves["roc"], metrics["auc"]),
            "Eigenfaces (PCA-64)": (*baseline_curves["roc"], eigenfaces["auc"]),
        }),
        "roc",
    )
    run.save_figure(
        pictures.distance_histogram_figure(
            curves["distances"], curves["same"], metrics["threshold_far_1e-2"], "FAR 1e-2"
        ),
        "distances",
    )
    # A dot on each curve marks the DIR reported at the first FPIR target.
    key = evaluation.far_key(evaluation.FAR_TARGETS[0])
    open_set_curves = {}
    for name, scores, score_curves in (
        ("triplet embedder", metrics, curves),
        ("Eigenfaces (PCA-64)", eigenfaces, baseline_curves),
    ):
        open_set = scores["open_set"]
        operating_point = (open_set.get(f"fpir_{key}"), open_set[f"dir_fpir_{key}"])
        open_set_curves[name] = (*score_curves["open_set"], open_set["non_mated_searches"], operating_point)
    run.save_figure(
        pictures.dir_fpir_figure(open_set_curves, fpir_target=evaluation.FAR_TARGETS[0]), "open_set"
    )
    return metrics


def face_metrics(embed, split, gallery):
    """Compute every face metric of one embedding function.

    Returns:
        `(metrics, curves)`: the JSON-ready metrics and the arrays for the
        pictures (`roc` as `(fpr, tpr)`, the pair `distances` and `same`,
        `held_out_embeddings`, and `open_set` as `(fpir, dir)`).
    """
    held_out, enrol, probes = split["held_out"], split["enrol"], split["probes"]

    # One call for all three sets: each predict call of a new batch shape
    # compiles the model again under some backends.
    embeddings = embed(np.concatenate([held_out.images, enrol.images, probes.images]))
    held_out_embeddings = embeddings[: len(held_out)]
    enrol_embeddings = embeddings[len(held_out) : len(held_out) + len(enrol)]
    probe_embeddings = embeddings[len(held_out) + len(enrol) :]

    # Verification over all pairs of the 100 held-out photos.
    verification = evaluation.verification(held_out_embeddings, held_out.labels)
    roc = verification.pop("roc")
    metrics = dict(verification)

    # Closed set: photos 1-3 of all 40 people enrolled, photos 4-10 of s31-s40 probe.
    metrics.update(evaluation.identification(
        enrol_embeddings, enrol.labels, probe_embeddings, probes.labels, mode=gallery
    ))
    all_photos = evaluation.identification(
        enrol_embeddings, enrol.labels, probe_embeddings, probes.labels, ranks=(1,), mode="all"
    )
    metrics["rank_1_all_photos"] = all_photos["rank_1"]

    # Open set: in each split, the probes of enrolled held-out people are
    # mated searches and every photo of the others is a non-mated search.
    open_set = evaluation.open_set_identification(
        _open_set_splits(split, held_out_embeddings, enrol_embeddings, probe_embeddings), mode=gallery
    )
    open_set_curve = open_set.pop("curve")
    metrics["open_set"] = open_set

    metrics.update(evaluation.clustering(held_out_embeddings, held_out.labels))

    distances, same = evaluation.all_pairs(held_out_embeddings, held_out.labels)
    curves = {
        "roc": (roc["fpr"], roc["tpr"]),
        "distances": distances,
        "same": same,
        "held_out_embeddings": held_out_embeddings,
        "open_set": (open_set_curve["fpir"], open_set_curve["dir"]),
    }
    return metrics, curves


def _open_set_splits(split, held_out_embeddings, enrol_embeddings, probe_embeddings):
    """Build the open-set splits: each group of held-out people is left out of one gallery.

    Every gallery keeps photos 1-3 of the training people as distractor
    identities, as in closed-set identification. The held-out people are
    cut into `OPEN_SET_SPLITS` groups in label order, so every one of them is
    non-mated in one split and mated in the others. A person who is not
    enrolled has no enrolment photos, so all of their photos are
    non-mated searches, while the mated searches are the probes (photos
    4-10) of the enrolled held-out people.

    Returns:
        A list of `zoo.metric.evaluation.OpenSetSplit`.
    """
    held_out, enrol, probes = split["held_out"], split["enrol"], split["probes"]
    people = np.unique(held_out.labels)
    if len(people) < OPEN_SET_SPLITS:
        raise InvalidConfigError(
            f"The open-set test needs at least {OPEN_SET_SPLITS} held-out people, one group per split. "
            f"Received {len(people)}. Hold out more people from training."
        )

    splits = []
    for non_enrolled in np.array_split(people, OPEN_SET_SPLITS):
        enrolled = ~np.isin(enrol.labels, non_enrolled)
        mated = ~np.isin(probes.labels, non_enrolled)
        non_mated = np.isin(held_out.labels, non_enrolled)
        splits.append(evaluation.OpenSetSplit(
            gallery=enrol_embeddings[enrolled],
            gallery_labels=enrol.labels[enrolled],
            mated_probes=probe_embeddings[mated],
            mated_labels=probes.labels[mated],
            non_mated_probes=held_out_embeddings[non_mated],
            non_mated_labels=held_out.labels[non_mated],
        ))
    return splits


def _cross_validation(validation, run_path):
    """Return `{"cross_validation": ...}` from a `validation.json`, or {} for an older file.

    Runs made before `validation_folds` wrote the scores of one split
    (setting `validation_people`) with no folds, so they have no mean or
    standard deviation to copy.
    """
    if "folds" not in validation:
        logger.warning(
            "%s/%s has no 'folds' (written by a run with validation_people, before "
            "validation_folds), so metrics.json gets no cross_validation.",
            run_path, VALIDATION_FILE,
        )
        return {}

    summary = {"folds": len(validation["folds"])}
    for statistic in ("mean", "std"):
        for key in CROSS_VALIDATION_KEYS:
            summary[f"{key}_{statistic}"] = validation[statistic][key]
    return {"cross_validation": summary}


def evaluate_fashion(run):
    """Score Fashion-MNIST retrieval on the test images of the held-out classes.

    Returns:
        The metrics dict: `recall_at_1`, `recall_at_5`, `nmi`, `ari`,
        `pca` (the same figures for PCA-64 on pixels), `goals_met`.
    """
    from recipes.data import load_fashion_mnist, select

    config = run.read_json(CONFIG_FILE)["config"]
    train = load_fashion_mnist(config["data_dir"] or None, split="train")
    test = load_fashion_mnist(config["data_dir"] or None, split="test")
    train = select(train, np.isin(train.labels, config["train_classes"]))
    test = select(test, np.isin(test.labels, config["test_classes"]))
    model = run.load_model()

    logger.info("Embedding %d test images of classes %s", len(test), config["test_classes"])
    embeddings = model.embedder.predict(test.images, batch_size=500, verbose=0)
    metrics = evaluation.recall_at_k(embeddings, test.labels)
    metrics.update(evaluation.clustering(embeddings, test.labels, seed=config["seed"]))

    baseline = evaluation.eigenfaces(train.images, EIGENFACES_COMPONENTS)
    baseline_embeddings = baseline(test.images)
    metrics["pca"] = evaluation.recall_at_k(baseline_embeddings, test.labels)
    metrics["pca"].update(evaluation.clustering(baseline_embeddings, test.labels, seed=config["seed"]))
    metrics["goals_met"] = {name: metrics[name] >= goal for name, goal in FASHION_GOALS.items()}

    from zoo.metric import pictures

    shown = np.random.default_rng(config["seed"]).choice(len(test), size=min(1000, len(test)), replace=False)
    run.save_figure(
        pictures.projection_figure(embeddings[shown], test.labels[shown], test.names,
                                   "Held-out classes (PCA of the embeddings)"),
        "projection",
    )
    return metrics
