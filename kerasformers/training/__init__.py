"""Training helpers: adversarial objectives and resumable long runs."""

from .adversarial import adversarial_training, gradient_penalty, virtual_adversarial_training
from .checkpoint import TrainingCheckpoint, fit_resumable

__all__ = [
    "TrainingCheckpoint",
    "adversarial_training",
    "fit_resumable",
    "gradient_penalty",
    "virtual_adversarial_training",
]
