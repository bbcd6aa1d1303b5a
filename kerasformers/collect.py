"""Batch the garbage collections Keras runs while variables are removed from layers.

Keras's ``Layer.__delattr__`` runs a full ``gc.collect()`` for every variable deleted from a
layer (so device buffers are freed promptly). Merging LoRA adapters or quantising a model
deletes one or two variables per layer, and each collection walks the whole heap (0.3–0.9 s
with torch, TensorFlow and transformers imported): a BERT-base merge spent minutes there.
"""

import contextlib
import gc


@contextlib.contextmanager
def collect_once():
    """Within this block ``gc.collect`` does nothing; one collection runs when it ends."""
    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        yield
    finally:
        gc.collect = collect
        collect()
