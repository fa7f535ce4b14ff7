"""Autoencoders: the convolutional AE, the denoising AE and the VAE."""

from zoo.autoencoder.autoencoder import Autoencoder, DenoisingAutoencoder
from zoo.autoencoder.networks import build_decoder, build_encoder
from zoo.autoencoder.vae import VAE

__all__ = ["VAE", "Autoencoder", "DenoisingAutoencoder", "build_decoder", "build_encoder"]
