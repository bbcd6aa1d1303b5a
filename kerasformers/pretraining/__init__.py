"""Pretraining: masked LM with whole-word masking, UniLM and GPT objectives, and pretrained presets."""

from .presets import PRETRAINED_NAME, find_pretrained

__all__ = ["PRETRAINED_NAME", "find_pretrained"]
