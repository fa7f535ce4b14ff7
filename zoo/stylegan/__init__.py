"""A small style-based generator (StyleGAN, Karras et al. 2019) with StyleGAN2 convolutions."""

from zoo.stylegan.model import StyleGAN

__all__ = ["StyleGAN"]
