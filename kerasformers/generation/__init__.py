"""Autoregressive generation: bert4keras's decoder API and a cached, compiled `generate`."""
from kerasformers.generation.autoregressive import AutoRegressiveDecoder
from kerasformers.generation.decoders import CausalDecoder, decoder_for
from kerasformers.generation.generate import generate

__all__ = ["AutoRegressiveDecoder", "CausalDecoder", "decoder_for", "generate"]
