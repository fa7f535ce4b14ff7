"""Run exported beyond-zoo models with onnxruntime.

This package imports only the standard library, numpy and onnxruntime;
Pillow is imported when a PNG or JPEG is read or written. It never imports
Keras, a Keras backend or the training code, so a serving install stays small.
"""

from serving.embedder import Embedder, IdentifyThreshold, VerifyResult, euclidean_distances
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
from serving.hub import (
    ChecksumMismatchError,
    DownloadError,
    ManifestError,
    UnknownArtifactError,
    UnknownVariantError,
    load,
    pull,
    read_manifest,
    resolve,
)
from serving.images import prepare_images, read_image
from serving.runtime import OnnxModel, TensorInfo, create_session, default_providers
from serving.stylegan import StyleGenerator, load_generator

__all__ = [
    "ChecksumMismatchError",
    "CorruptFileError",
    "Decoder",
    "DownloadError",
    "Embedder",
    "Encoder",
    "Gallery",
    "GalleryError",
    "GalleryMismatchError",
    "Identification",
    "IdentifyThreshold",
    "InvalidInputError",
    "InvalidModelError",
    "ManifestError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "OnnxModel",
    "ServingError",
    "StyleGenerator",
    "TensorInfo",
    "Translator",
    "UnknownArtifactError",
    "UnknownVariantError",
    "VerifyResult",
    "create_session",
    "default_providers",
    "euclidean_distances",
    "interpolate_latents",
    "load",
    "load_generator",
    "make_grid",
    "prepare_images",
    "pull",
    "read_image",
    "read_manifest",
    "reconstruct",
    "resolve",
    "save_grid",
]
