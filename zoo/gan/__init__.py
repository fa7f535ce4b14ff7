"""Generative adversarial networks: GAN, DCGAN, Pix2Pix, and sample metrics."""

from zoo.gan.models import DCGAN, GAN, Pix2Pix

__all__ = ["DCGAN", "GAN", "Pix2Pix"]
