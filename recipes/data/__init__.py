"""Data loaders, identity splits, augmentation and P x K batches.

The loaders return `LabelledImages` with float32 NHWC images in [0, 1].
See `recipes.data.locate` for where the files are searched and downloaded.
`PKSampler` is imported on first use because it imports Keras, which the
loaders do not need.
"""

from recipes.data.augment import AugmentConfig, augment
from recipes.data.digits import load_digits
from recipes.data.faces import load_olivetti, load_orl, split_orl_identities
from recipes.data.fashion_mnist import load_fashion_mnist
from recipes.data.images import LabelledImages, select

__all__ = [
    "AugmentConfig",
    "LabelledImages",
    "PKSampler",
    "augment",
    "load_digits",
    "load_fashion_mnist",
    "load_olivetti",
    "load_orl",
    "select",
    "split_orl_identities",
]


def __getattr__(name):
    if name == "PKSampler":
        from recipes.data.sampler import PKSampler

        return PKSampler
    raise AttributeError(f"module 'recipes.data' has no attribute {name!r}")
