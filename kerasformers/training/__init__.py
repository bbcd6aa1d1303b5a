"""Training helpers: adversarial objectives, attributions and resumable long runs."""

from .adversarial import adversarial_training, gradient_penalty, virtual_adversarial_training
from .attribution import integrated_gradients
from .checkpoint import TrainingCheckpoint, fit_resumable

__all__ = [
    "TrainingCheckpoint",
    "adversarial_training",
    "fit_resumable",
    "gradient_penalty",
    "integrated_gradients",
    "virtual_adversarial_training",
]
