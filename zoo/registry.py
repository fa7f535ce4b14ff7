"""The names `zoo list` shows: every model class and every recipe.

The tables are plain data so that listing them imports no Keras. A test
imports every entry and checks that it exists.
"""

# name -> ("module:attribute", one-line description)
MODELS = {
    "GAN": ("zoo.gan:GAN", "Original GAN with MLP generator and discriminator, k discriminator steps."),
    "DCGAN": ("zoo.gan:DCGAN", "Deep convolutional GAN: transposed-convolution generator, strided-convolution discriminator."),
    "Pix2Pix": ("zoo.gan:Pix2Pix", "Conditional GAN for image-to-image translation: U-Net generator, PatchGAN discriminator."),
    "TripletModel": ("zoo.metric:TripletModel", "Embedder trained with the FaceNet triplet loss, batch-all, batch-hard or semi-hard mining."),
    "Classifier": ("zoo.classifier:Classifier", "Small CNN image classifier whose penultimate layer gives domain features."),
    "StyleGAN": ("zoo.stylegan:StyleGAN", "Style-based generator: mapping network, modulated convolutions, style mixing, truncation, R1."),
    "Autoencoder": ("zoo.autoencoder:Autoencoder", "Convolutional autoencoder: encoder images -> z, sigmoid decoder z -> images."),
    "DenoisingAutoencoder": ("zoo.autoencoder:DenoisingAutoencoder", "Autoencoder trained on Gaussian- or masking-corrupted inputs."),
    "VAE": ("zoo.autoencoder:VAE", "Variational autoencoder (beta-VAE) with Bernoulli decoder and KL warm-up."),
}


def import_model_modules():
    """Import the module of every entry of `MODELS`.

    Loading a `.keras` file needs its classes registered, which happens when
    their module is imported. Without this, a recipe that loads another
    recipe's run (a GAN evaluation loading the classifier run) fails.
    """
    import importlib

    for target, _ in MODELS.values():
        importlib.import_module(target.split(":")[0])
