"""Run exported beyond-zoo models with onnxruntime.

This package imports only the standard library, numpy and onnxruntime;
Pillow is imported when a PNG or JPEG is read or written. It never imports
Keras, a Keras backend or the training code, so a serving install stays small.
"""

from serving.embedder import Embedder, VerifyResult, euclidean_distances
from serving.errors import (
    CorruptFileError,
    GalleryError,
    GalleryMismatchError,
    InvalidInputError,
    InvalidModelError,
    MissingDependencyError,
    ModelNotFoundError,
    ServingError,
)
from serving.gallery import Gallery, Identification
from serving.generative import (
    Decoder,
    Encoder,
    Translator,
    interpolate_latents,
    make_grid,
    reconstruct,
    save_grid,
)
from serving.images import prepare_images, read_image
from serving.runtime import OnnxModel, TensorInfo, create_session, default_providers

__all__ = [
    "CorruptFileError",
    "Decoder",
    "Embedder",
    "Encoder",
    "Gallery",
    "GalleryError",
    "GalleryMismatchError",
    "Identification",
    "InvalidInputError",
    "InvalidModelError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "OnnxModel",
    "ServingError",
    "TensorInfo",
    "Translator",
    "VerifyResult",
    "create_session",
    "default_providers",
    "euclidean_distances",
    "interpolate_latents",
    "make_grid",
    "prepare_images",
    "read_image",
    "reconstruct",
    "save_grid",
]
