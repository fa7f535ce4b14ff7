"""Training recipes: data pipelines and `fit` runs that write a run folder.

`RECIPES` maps each recipe name to the function that runs it and a
one-line description. Listing it imports nothing heavy.
"""

# name -> ("module:function", one-line description)
RECIPES = {
    "triplet-faces": ("recipes.triplet:TRIPLET_FACES", "Face embeddings from dlib's pretrained face ResNet, triplet loss on ORL s1-s30, tested on s31-s40."),
    "triplet-faces-cnn": ("recipes.triplet:TRIPLET_FACES_CNN", "Face embeddings from a CNN trained from scratch on ORL s1-s30, tested on s31-s40."),
    "triplet-fashion": ("recipes.triplet:TRIPLET_FASHION", "Fashion-MNIST retrieval embeddings, triplet loss on classes 0-4, tested on 5-9."),
    "classifier-fashion": ("recipes.classifier:RECIPE", "Fashion-MNIST CNN classifier whose features score the GAN samples."),
    "gan-fashion": ("recipes.gan:GAN_FASHION", "Original MLP GAN (Goodfellow et al. 2014) on Fashion-MNIST."),
    "dcgan-fashion": ("recipes.gan:DCGAN_FASHION", "DCGAN on Fashion-MNIST, scored with FID, KID and class coverage."),
    "pix2pix-edges-fashion": ("recipes.gan:PIX2PIX_EDGES_FASHION", "Pix2pix from Sobel edge maps back to Fashion-MNIST items."),
    "pix2pix-inpaint-faces": ("recipes.gan:PIX2PIX_INPAINT_FACES", "Pix2pix inpainting of a masked square in ORL faces, 64x64."),
    "stylegan-fashion": ("recipes.stylegan:STYLEGAN_FASHION", "Style-based generator on Fashion-MNIST padded to 32x32, scored with FID, KID and coverage."),
    "stylegan-faces": ("recipes.stylegan:STYLEGAN_FACES", "Style-based generator on the Olivetti faces, 64x64, with flip augmentation."),
    "ae-fashion": ("recipes.autoencoder:AE_FASHION", "Convolutional autoencoder on Fashion-MNIST, latent 16, compared with PCA-16."),
    "dae-fashion": ("recipes.autoencoder:DAE_FASHION", "Denoising autoencoder on Fashion-MNIST, Gaussian input noise 0.3."),
    "vae-fashion": ("recipes.autoencoder:VAE_FASHION", "Variational autoencoder on Fashion-MNIST, test ELBO and IWAE NLL in nats."),
    "vae-faces": ("recipes.autoencoder:VAE_FACES", "Variational autoencoder on the Olivetti faces, 64x64."),
}
