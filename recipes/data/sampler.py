"""P x K batches for metric learning: P identities with K images each."""

import keras
import numpy as np

from recipes.data.augment import augment as augment_images
from zoo.errors import InvalidConfigError


class PKSampler(keras.utils.PyDataset):
    """A `PyDataset` of batches with P identities and K images of each.

    Batch-hard triplet mining needs several images of every identity in a
    batch, which uniform sampling rarely gives. Each batch draws P distinct
    labels, then K images of each label, without replacement when the label
    has at least K images and with replacement otherwise.

    Batch `index` of epoch `e` depends only on `(seed, e, index)`, so the
    batches are reproducible, the same with any number of workers, and
    different from one epoch to the next.

    Args:
        data: the `LabelledImages` to sample from.
        p: the number of identities per batch, at most the number of
            distinct labels in `data`.
        k: the number of images per identity.
        steps_per_epoch: the number of batches in one epoch.
        augment: an `AugmentConfig` applied to every batch, or None.
        seed: the seed of the sampling and the augmentation.
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size`,
            passed to `keras.utils.PyDataset`.

    Each item is a tuple `(x, y)`: `x` float32 of shape (P*K, H, W, C) in
    [0, 1] and `y` int32 of shape (P*K,), the labels of `data`, with the K
    images of an identity next to each other.
    """

    def __init__(self, data, p, k, steps_per_epoch, augment=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.classes = np.unique(data.labels)
        for name, value in (("p", p), ("k", k), ("steps_per_epoch", steps_per_epoch)):
            if int(value) != value or value < 1:
                raise InvalidConfigError(f"{name} must be a positive integer. Received: {value}.")
        if p > len(self.classes):
            raise InvalidConfigError(
                f"p must be at most the number of identities in the data ({len(self.classes)}). "
                f"Received: p={p}."
            )

        self.data = data
        self.p = int(p)
        self.k = int(k)
        self.steps_per_epoch = int(steps_per_epoch)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.indices_by_class = [np.flatnonzero(data.labels == label) for label in self.classes]

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"Batch index {index} is out of range 0..{self.steps_per_epoch - 1}.")
        rng = np.random.default_rng([self.seed, self.epoch, index])

        chosen = rng.choice(len(self.classes), size=self.p, replace=False)
        batch_indices = []
        for class_position in chosen:
            candidates = self.indices_by_class[class_position]
            replace = len(candidates) < self.k
            batch_indices.append(rng.choice(candidates, size=self.k, replace=replace))
        batch_indices = np.concatenate(batch_indices)

        x = self.data.images[batch_indices]
        if self.augment is not None:
            x = augment_images(x, rng, self.augment)
        y = self.data.labels[batch_indices].astype(np.int32)
        return x.astype(np.float32, copy=False), y

    def on_epoch_end(self):
        self.epoch += 1
