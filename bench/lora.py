"""Memory and speed of a LoRA training step against a full fine-tuning step.

    python bench/lora.py            # BERT-base-sized encoder (12 x 768), batch 8 x 128
    python bench/lora.py --quick    # 2 x 128, batch 4 x 32: seconds, for a smoke run

Prints, for each mode: trainable parameters, bytes of optimizer state (Adam: 2 slots per
trainable weight), and the median wall time of a compiled training step, then the ratios.
Random weights: speed and memory do not depend on the values.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

from kerasformers import lora
from kerasformers.layers import TakeToken
from kerasformers.models import build_transformer_model


def classifier(config):
    bert = build_transformer_model(**config)
    return keras.Model(bert.inputs, keras.layers.Dense(2, name="head")(TakeToken(name="cls")(bert.output)))


def measure(model, batch, labels, steps):
    model.compile(keras.optimizers.Adam(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(batch, labels)  # compile
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(batch, labels)
        times.append(time.perf_counter() - started)
    trainable, total = lora.count_parameters(model)
    slots = sum(int(np.prod(v.shape)) * 4 for v in model.optimizer.variables)
    return {
        "trainable": trainable,
        "total": total,
        "optimizer_bytes": slots,
        "step_s": statistics.median(times),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rank", type=int, default=8)
    args = parser.parse_args()
    if args.quick:
        config = {
            "vocab_size": 1000,
            "hidden_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 512,
            "max_position": 64,
        }
        batch_size, length, steps = 4, 32, 3
    else:
        config = {
            "vocab_size": 21128,
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "max_position": 512,
        }
        batch_size, length, steps = 8, 128, 5
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, config["vocab_size"], size=(batch_size, length)).astype("int32")
    batch, labels = [tokens, np.zeros_like(tokens)], (tokens[:, 1] % 2).astype("int32")

    keras.utils.set_random_seed(0)
    full = measure(classifier(config), batch, labels, steps)
    model = classifier(config)
    lora.enable_lora(model, rank=args.rank, train=["head"])
    adapted = measure(model, batch, labels, steps)

    print(
        f"backend={keras.backend.backend()} layers={config['num_hidden_layers']} "
        f"hidden={config['hidden_size']} batch={batch_size}x{length} rank={args.rank}"
    )
    print(f"{'':6} {'trainable':>12} {'optimizer MB':>13} {'step s':>8}")
    for name, result in (("full", full), ("lora", adapted)):
        print(
            f"{name:6} {result['trainable']:>12,} {result['optimizer_bytes'] / 2**20:>13.1f} "
            f"{result['step_s']:>8.3f}"
        )
    print(
        f"lora/full: trainable {adapted['trainable'] / full['trainable']:.4f}, optimizer state "
        f"{adapted['optimizer_bytes'] / full['optimizer_bytes']:.4f}, step time "
        f"{adapted['step_s'] / full['step_s']:.2f}"
    )


if __name__ == "__main__":
    main()
