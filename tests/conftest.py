import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import kerasformers  # noqa: E402,F401  (sets the default backend before keras loads)


def pytest_collection_finish(session):
    """Every test module (with torch, TensorFlow, transformers) is imported by now: move those objects
    out of the collector's reach, so the full gc.collect() Keras runs whenever a variable is removed
    from a layer (quantising, merging LoRA) stops walking them."""
    import gc

    gc.freeze()
