"""Pretraining: masked LM with whole-word masking, UniLM and GPT objectives, and pretrained presets."""

from .presets import find_pretrained

__all__ = ["find_pretrained"]
