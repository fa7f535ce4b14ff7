"""Evaluation of the autoencoder recipes on the test set.

Baselines: PCA with as many components as the latent size (the best linear
autoencoder under squared error), and K-means on raw pixels.
"""

import numpy as np
from keras import ops

from zoo import latent
from zoo.cluster import KMeans, adjusted_rand_index, normalized_mutual_info


def reconstruction_mse(model, images, batch_size=500):
    """Return the mean squared error per pixel of `model(images)`."""
    total = 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        reconstructions = ops.convert_to_numpy(model(batch, training=False))
        total += float(np.sum((reconstructions.astype("float64") - batch) ** 2))
    return total / images.size


def denoising_mse(model, images, batch_size=500):
    """Score a denoising autoencoder on corrupted images, as MSEs per pixel.

    Corrupts `images` with the model's own training noise (`model.corrupt`),
    then compares both the noisy inputs and their reconstructions with the
    clean images.

    Returns:
        `{"test_noisy_input_mse_per_pixel": ..., "test_denoised_mse_per_pixel": ...}`.
    """
    noisy_total, denoised_total = 0.0, 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        noisy = model.corrupt(ops.convert_to_tensor(batch))
        denoised = ops.convert_to_numpy(model(noisy, training=False)).astype("float64")
        noisy_total += float(np.sum((ops.convert_to_numpy(noisy).astype("float64") - batch) ** 2))
        denoised_total += float(np.sum((denoised - batch) ** 2))
    return {
        "test_noisy_input_mse_per_pixel": noisy_total / images.size,
        "test_denoised_mse_per_pixel": denoised_total / images.size,
    }


def pca_mse(train_images, test_images, n_components, seed=0):
    """Return the per-pixel test MSE of PCA fitted on the training images."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=seed)
    pca.fit(train_images.reshape(len(train_images), -1))
    flat = test_images.reshape(len(test_images), -1)
    reconstructions = pca.inverse_transform(pca.transform(flat))
    return float(np.mean((reconstructions - flat) ** 2))


def clustering_scores(z, images, labels, n_init, seed=0):
    """Return NMI and ARI of K-means on latents and on raw pixels.

    K is the number of distinct labels.
    """
    n_clusters = len(np.unique(labels))
    scores = {}
    for name, features in (("latent", z), ("pixels", images.reshape(len(images), -1))):
        predicted = KMeans(n_clusters, n_init=n_init, seed=seed).fit(features).labels_
        scores[f"kmeans_{name}_nmi"] = normalized_mutual_info(labels, predicted)
        scores[f"kmeans_{name}_ari"] = adjusted_rand_index(labels, predicted)
    return scores


def bernoulli_entropy_nats(images):
    """Return the mean over images of the summed binary entropy of the pixels, in nats.

    For grey values x in [0, 1] the Bernoulli cross-entropy
    -[x log p + (1 - x) log(1 - p)] is smallest at p = x, where it equals the
    binary entropy H(x). So no decoder can bring the Bernoulli "NLL" of
    grey images below this sum; binarised data, where H(x) = 0, has no such
    floor.
    """
    flat = np.clip(images.reshape(len(images), -1).astype("float64"), 1e-12, 1.0 - 1e-12)
    entropy = -(flat * np.log(flat) + (1.0 - flat) * np.log1p(-flat))
    return float(np.mean(np.sum(entropy, axis=1)))


def vae_scores(model, images, iwae_images, iwae_samples, seed=0):
    """Return the test ELBO, the IWAE estimate of the NLL, the KL per unit and the entropy floor.

    `test_bernoulli_entropy_nats` is the `bernoulli_entropy_nats` floor of
    `images`. No model with a Bernoulli decoder can gain more than the gap
    between the NLL and this floor.

    Args:
        model: a trained `VAE`.
        images: the test images for the ELBO and the KL statistics.
        iwae_images: the (usually smaller) set for the K-sample IWAE bound.
        iwae_samples: K.
    """
    elbo = np.concatenate(
        [
            model.importance_weighted_bound(images[start : start + 500], 1, seed=seed)
            for start in range(0, len(images), 500)
        ]
    )
    iwae = np.concatenate(
        [
            model.importance_weighted_bound(iwae_images[start : start + 250], iwae_samples, seed=seed)
            for start in range(0, len(iwae_images), 250)
        ]
    )

    z_mean, z_log_var = [], []
    for start in range(0, len(images), 500):
        mean, log_var = model.encoder(images[start : start + 500], training=False)
        z_mean.append(ops.convert_to_numpy(mean))
        z_log_var.append(ops.convert_to_numpy(log_var))
    z_mean, z_log_var = np.concatenate(z_mean), np.concatenate(z_log_var)
    kl_per_dim = np.mean(-0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)), axis=0)

    return {
        "test_elbo_nats": float(np.mean(elbo)),
        "test_nll_iwae_nats": float(-np.mean(iwae)),
        "test_bernoulli_entropy_nats": bernoulli_entropy_nats(images),
        "iwae_samples": iwae_samples,
        "iwae_images": len(iwae_images),
        "test_kl_nats": float(np.sum(kl_per_dim)),
        "kl_per_dim_nats": [round(float(value), 4) for value in kl_per_dim],
        "active_units": int(np.sum(np.var(z_mean, axis=0) > 0.01)),
    }


def encode_all(model, images):
    """Return `z` (autoencoder) or `z_mean` (VAE) of `images`."""
    return latent.encode(model.encoder, images)
