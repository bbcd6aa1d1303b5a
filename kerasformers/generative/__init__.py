"""Generative models from the same articles as the rest of kerasformers, on every Keras backend.

Each model overrides ``compute_loss`` (and uses ``ops.stop_gradient`` where the objective needs it),
so ``model.compile(optimizer); model.fit(x)`` trains it with Keras's own ``train_step``.
"""

from .flows import AffineCoupling, Flow, FlowVAE, InvertibleLinear, ReversePermutation
from .gan import OneLossGAN
from .score import DenoisingScoreModel, geometric_noise_levels
from .vae import VAE, ClusteringVAE, gaussian_kl
from .vqvae import VQVAE, CodebookMonitor, CodePrior, VectorQuantizer, codebook_usage

__all__ = [
    "VAE",
    "VQVAE",
    "AffineCoupling",
    "ClusteringVAE",
    "CodePrior",
    "CodebookMonitor",
    "DenoisingScoreModel",
    "Flow",
    "FlowVAE",
    "InvertibleLinear",
    "OneLossGAN",
    "ReversePermutation",
    "VectorQuantizer",
    "codebook_usage",
    "gaussian_kl",
    "geometric_noise_levels",
]
