"""beyond-zoo: Keras 3 models for metric learning, autoencoders, VAEs and GANs.

Importing this package does not import Keras, so that the `zoo` command
starts fast. Import the submodules (`zoo.core`, `zoo.metric`, ...) for the
models themselves.
"""

__version__ = "0.1.0"
