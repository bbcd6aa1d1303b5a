"""int8 quantisation of a built model, on top of Keras 3's ``Model.quantize``.

Keras quantises ``Dense``/``EinsumDense`` (dynamic int8: per-output-channel int8 weights,
inputs quantised per token at call time) and ``Embedding`` (per-row int8 table). Our
attention and feed-forward blocks are made of Keras ``Dense`` layers, so they are covered;
``kerasformers.layers.Embedding`` extends the Keras one so the tied MLM/LM head is covered
too. Norms, biases and position tables stay float32 (they are small).

    from kerasformers.quantization import quantize_int8
    quantize_int8(model)          # in place; model.save("m.keras") keeps it int8
"""

import warnings

import keras
import numpy as np

from .collect import collect_once


def quantize_int8(model):
    """Quantise ``model`` in place to int8; returns the paths of the layers that changed.

    Layers with nothing to quantise (norms, dropout, masks, ...) are skipped silently;
    Keras would warn once per such layer. Raises ValueError if nothing was quantised.
    """
    if not model.built:
        raise ValueError("quantize_int8: build the model (call it once) before quantising it")
    with warnings.catch_warnings(), collect_once():
        warnings.filterwarnings("ignore", message=".*does not have a `quantize` method.*")
        model.quantize("int8")
    changed = quantized_layers(model)
    if not changed:
        raise ValueError(
            f"quantize_int8: {model.name} has no Dense, EinsumDense or Embedding layer to quantise"
        )
    return changed


def quantized_layers(model):
    """Paths of the layers of ``model`` whose weights are int8."""
    return [
        layer.path for layer in model._flatten_layers() if getattr(layer, "quantization_mode", None) == "int8"
    ]


def weight_bytes(model):
    """Bytes the model's variables take in memory (what int8 saves)."""
    return sum(
        int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
        for v in model.weights
    )
