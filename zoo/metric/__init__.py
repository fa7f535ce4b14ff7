"""Metric learning: the embedder, the triplet loss and the training model."""

from zoo.metric.embedder import L2Normalization, build_embedder
from zoo.metric.losses import (
    MINING_STRATEGIES,
    cosface_loss,
    pairwise_squared_distances,
    triplet_loss,
)
from zoo.metric.model import TripletModel

__all__ = [
    "L2Normalization",
    "MINING_STRATEGIES",
    "TripletModel",
    "build_embedder",
    "cosface_loss",
    "pairwise_squared_distances",
    "triplet_loss",
]
