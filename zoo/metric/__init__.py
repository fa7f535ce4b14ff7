"""Metric learning: the embedders, dlib's face ResNet, the LBP descriptor, the triplet loss and the training model."""

from zoo.metric.embedder import L2Normalization, build_embedder, build_face_resnet_embedder
from zoo.metric.face_resnet import build_face_resnet, read_dlib_face_resnet
from zoo.metric.local_patterns import LocalBinaryPatterns, Whitening, add_local_patterns
from zoo.metric.losses import (
    MINING_STRATEGIES,
    cosface_loss,
    pairwise_squared_distances,
    triplet_loss,
)
from zoo.metric.model import TripletModel

__all__ = [
    "L2Normalization",
    "LocalBinaryPatterns",
    "MINING_STRATEGIES",
    "TripletModel",
    "Whitening",
    "add_local_patterns",
    "build_embedder",
    "build_face_resnet",
    "build_face_resnet_embedder",
    "cosface_loss",
    "pairwise_squared_distances",
    "read_dlib_face_resnet",
    "triplet_loss",
]
