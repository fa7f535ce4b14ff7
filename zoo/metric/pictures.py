"""Figures of an embedding: 2-D projection, ROC and DIR-FPIR curves, distance histograms.

Each function returns a matplotlib figure drawn with the Agg backend; the
caller saves it (for example `RunFolder.save_figure`).
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402


def projection_figure(embeddings, labels, names=None, title="Held-out embeddings"):
    """Plot the first two principal components of the embeddings, coloured by label.

    Args:
        embeddings: float array (N, D).
        labels: integer array (N,).
        names: optional list mapping a label to its name for the legend.
        title: the figure title.
    """
    points = PCA(n_components=2, random_state=0).fit_transform(np.asarray(embeddings, np.float64))
    figure, axes = plt.subplots(figsize=(6, 5))
    identities = np.unique(labels)
    colours = plt.get_cmap("tab20", max(len(identities), 1))
    for index, identity in enumerate(identities):
        chosen = labels == identity
        label = names[identity] if names is not None else str(identity)
        axes.scatter(points[chosen, 0], points[chosen, 1], s=18, color=colours(index), label=label)
    if len(identities) <= 20:
        axes.legend(fontsize=7, ncol=2, loc="best")
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(title)
    return figure


def roc_figure(curves):
    """Plot ROC curves on a logarithmic false-accept axis.

    Args:
        curves: a dict from curve name to `(fpr, tpr, auc)`.
    """
    figure, axes = plt.subplots(figsize=(6, 5))
    for name, (fpr, tpr, auc) in curves.items():
        # The log axis cannot show FAR 0; start at the smallest positive FAR.
        axes.plot(np.maximum(fpr, 1e-4), tpr, label=f"{name} (AUC {auc:.3f})")
    axes.set_xscale("log")
    axes.set_xlim(1e-4, 1.0)
    axes.set_ylim(0.0, 1.01)
    axes.set_xlabel("false accept rate")
    axes.set_ylabel("true accept rate")
    axes.set_title("Verification on held-out identities")
    axes.legend(loc="lower right")
    axes.grid(True, which="both", alpha=0.3)
    return figure


def dir_fpir_figure(curves, fpir_target=None):
    """Plot open-set DIR against FPIR on a logarithmic FPIR axis.

    Args:
        curves: a dict from curve name to `(fpir, dir, non_mated_searches,
            operating_point)`: arrays of the same length, the number of
            non-mated searches, and `(fpir, dir)` of the reported threshold
            to mark with a dot, or None.
        fpir_target: an FPIR to mark with a vertical line, or None.
    """
    figure, axes = plt.subplots(figsize=(6, 5))
    smallest = 1.0
    for name, (fpir, dir_, searches, operating_point) in curves.items():
        # The log axis cannot show FPIR 0, so such points are drawn at half
        # the smallest FPIR that the non-mated searches can measure.
        floor = 0.5 / max(searches, 1)
        smallest = min(smallest, floor)
        line, = axes.step(np.maximum(fpir, floor), dir_, where="post", label=name)
        if operating_point is not None and None not in operating_point:
            axes.plot(max(operating_point[0], floor), operating_point[1], "o", color=line.get_color())
    if fpir_target is not None:
        axes.axvline(fpir_target, color="black", linestyle="--", label=f"FPIR {fpir_target:g} (dots: reported DIR)")
    axes.set_xscale("log")
    axes.set_xlim(smallest, 1.0)
    axes.set_ylim(0.0, 1.01)
    axes.set_xlabel("false positive identification rate (FPIR)")
    axes.set_ylabel("detection and identification rate (DIR)")
    axes.set_title("Open-set identification on held-out identities")
    axes.legend(loc="lower right")
    axes.grid(True, which="both", alpha=0.3)
    return figure


def distance_histogram_figure(distances, same, threshold, threshold_label):
    """Plot the same-identity and different-identity distance histograms.

    Args:
        distances: float array (n,) of pair distances.
        same: boolean array (n,), True for same-identity pairs.
        threshold: the distance threshold to mark.
        threshold_label: its legend text, for example "FAR 1e-2".
    """
    figure, axes = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0.0, float(np.max(distances)) * 1.02 + 1e-9, 50)
    axes.hist(distances[same], bins=bins, alpha=0.6, density=True, label="same person")
    axes.hist(distances[~same], bins=bins, alpha=0.6, density=True, label="different people")
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold at {threshold_label}")
    axes.set_xlabel("Euclidean distance")
    axes.set_ylabel("density")
    axes.legend()
    return figure
