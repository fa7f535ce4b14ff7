"""Clustering of embeddings and latents: K-means and clustering scores."""

from zoo.cluster.kmeans import KMeans
from zoo.cluster.scores import adjusted_rand_index, normalized_mutual_info

__all__ = ["KMeans", "adjusted_rand_index", "normalized_mutual_info"]
