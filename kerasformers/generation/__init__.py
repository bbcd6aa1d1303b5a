"""Autoregressive generation: bert4keras's decoder API and a cached, compiled `generate`."""

from kerasformers.generation.autoregressive import AutoRegressiveDecoder
from kerasformers.generation.constraints import SequenceTrie
from kerasformers.generation.decoders import CausalDecoder, decoder_for
from kerasformers.generation.generate import generate, generate_text

__all__ = [
    "AutoRegressiveDecoder",
    "CausalDecoder",
    "SequenceTrie",
    "decoder_for",
    "generate",
    "generate_text",
]
