"""Token / n-gram counting over many files, in parallel, with bounded memory.

With workers > 1 each batch of lines is counted into its own small ``Counter`` in
a worker process and merged into one table here; with one process batches are
counted straight into the table (numbers in ``bench/word_count.py``). When the
table grows beyond ``max_entries`` it either

* ``overflow="spill"``: writes itself to disk in hash shards and starts afresh; the
  shards are summed one at a time at the end (exact counts, memory ~ one shard), or
* ``overflow="prune"``: drops its rarest half (approximate counts, constant memory).

The budget is checked after each merge, so the table peaks at ``max_entries`` plus
the distinct tokens of one batch; a smaller ``batch_chars`` tightens it.
"""

import collections
import operator
import os
import pickle
import shutil
import tempfile
import weakref
from itertools import chain, repeat

import numpy as np

from kerasformers.data.parallel import parallel_apply_generator
from kerasformers.text.corpus import batch_lines, content_pieces
from kerasformers.text.engines import check_engine, dask_client, dask_count_batches, shard_of

__all__ = [
    "CharTokenizer",
    "CountTable",
    "JiebaTokenizer",
    "NgramTokenizer",
    "count_batch",
    "count_batches",
    "count_frequent_tokens",
    "count_tokens",
    "get_tokenizer",
]


class CharTokenizer:
    """Every word character on its own."""

    def __call__(self, text):
        return chain.from_iterable(content_pieces(text))


class NgramTokenizer:
    """All character n-grams of length 1..n inside each run of word characters."""

    def __init__(self, n=4):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n

    def __call__(self, text):
        n = self.n
        return [
            piece[i : i + k]
            for piece in content_pieces(text)
            for k in range(1, n + 1)
            for i in range(len(piece) - k + 1)
        ]


class JiebaTokenizer:
    """Words from jieba (optional dependency), punctuation and spaces dropped."""

    def __init__(self):
        try:
            import jieba
        except ImportError as exc:
            raise ImportError("tokenizer='jieba' needs the jieba package: pip install jieba") from exc
        jieba.setLogLevel(60)
        self._cut = jieba.lcut

    def __call__(self, text):
        return [w for piece in content_pieces(text) for w in self._cut(piece, HMM=True)]


def get_tokenizer(tokenizer="char", n=4):
    """'char', 'ngram' (lengths 1..n), 'jieba', or any callable text -> tokens."""
    if callable(tokenizer):
        return tokenizer
    if tokenizer == "char":
        return CharTokenizer()
    if tokenizer == "ngram":
        return NgramTokenizer(n)
    if tokenizer == "jieba":
        return JiebaTokenizer()
    raise ValueError(f"tokenizer must be 'char', 'ngram', 'jieba' or a callable, got {tokenizer!r}")


def count_batch(lines, tokenize):
    """Count one batch into a fresh, small Counter (C-speed ``Counter(iterable)``)."""
    return collections.Counter(chain.from_iterable(map(tokenize, lines)))


class CountTable:
    """A token -> count table with a size budget (see module docstring)."""

    def __init__(self, max_entries=None, overflow="spill", spill_dir=None, shards=16):
        if overflow not in ("prune", "spill"):
            raise ValueError(f"overflow must be 'prune' or 'spill', got {overflow!r}")
        if max_entries is not None and max_entries < 2:
            raise ValueError(f"max_entries must be >= 2 or None, got {max_entries}")
        self.max_entries = max_entries
        self.overflow = overflow
        self.shards = shards
        self.counts = collections.Counter()
        self.peak_entries = 0
        self.prune_threshold = 0  # counts below this may have been dropped
        self.spills = 0
        self._spill_root = spill_dir  # parent for our own temp dir (None: system temp)
        self._spill_dir = None

    def add(self, batch):
        """Merge one batch Counter into the table.

        The merge runs entirely in C (dict.update over zip/map of builtins), with no
        Python bytecode per key as ``Counter.update(mapping)`` would have. Keys of a
        batch are unique, so each old count is read before its key is rewritten.
        """
        keys = list(batch)
        old = map(self.counts.get, keys, repeat(0))
        dict.update(self.counts, zip(keys, map(operator.add, old, map(batch.__getitem__, keys))))
        self._after_growth()

    def _after_growth(self):
        self.peak_entries = max(self.peak_entries, len(self.counts))
        if self.max_entries is not None and len(self.counts) > self.max_entries:
            if self.overflow == "prune":
                self._prune()
            else:
                self._spill()

    def add_tokens(self, tokens):
        """Count an iterable of tokens straight into the table (C-speed
        ``Counter.update``); the single-process fast path."""
        self.counts.update(tokens)
        self._after_growth()

    def _prune(self):
        # Keep roughly the max_entries // 2 most frequent entries.
        values = np.fromiter(self.counts.values(), dtype=np.int64, count=len(self.counts))
        keep = self.max_entries // 2
        threshold = int(np.partition(values, len(values) - keep)[len(values) - keep])
        strict = int((values >= threshold).sum()) > self.max_entries
        self.counts = collections.Counter(
            {t: c for t, c in self.counts.items() if c > threshold or (c == threshold and not strict)}
        )
        self.prune_threshold = max(self.prune_threshold, threshold + 1 if strict else threshold)

    def _spill(self):
        if self._spill_dir is None:
            if self._spill_root is not None:
                os.makedirs(self._spill_root, exist_ok=True)
            self._spill_dir = tempfile.mkdtemp(prefix="kerasformers-counts-", dir=self._spill_root)
            # Remove the spill files when the table is closed or garbage-collected.
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._spill_dir, True)
        parts = [{} for _ in range(self.shards)]
        for token, count in self.counts.items():
            parts[hash(token) % self.shards][token] = count
        for shard, part in enumerate(parts):
            path = os.path.join(self._spill_dir, f"shard{shard:03d}-{self.spills:06d}.pkl")
            with open(path, "wb") as f:
                pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
        self.spills += 1
        self.counts = collections.Counter()

    def items(self, min_count=1):
        """Yield (token, count) with count >= min_count; shard by shard after spilling."""
        if not self.spills:
            yield from ((t, c) for t, c in self.counts.items() if c >= min_count)
            return
        for shard in range(self.shards):
            merged = collections.Counter(
                {t: c for t, c in self.counts.items() if hash(t) % self.shards == shard}
            )
            for spill in range(self.spills):
                path = os.path.join(self._spill_dir, f"shard{shard:03d}-{spill:06d}.pkl")
                with open(path, "rb") as f:
                    merged.update(pickle.load(f))
            yield from ((t, c) for t, c in merged.items() if c >= min_count)

    def to_dict(self, min_count=1):
        return dict(self.items(min_count))

    def close(self):
        """Delete the spill files (the table is unusable afterwards if it spilled)."""
        if self._spill_dir is not None:
            self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def count_batches(batches, count_fn, workers=1, max_queue_size=4, table=None):
    """Merge ``count_fn(batch)`` Counters into ``table`` (a new CountTable if None);
    with workers > 1 the batches are counted in worker processes."""
    table = table if table is not None else CountTable()
    if workers == 1:
        counted = map(count_fn, batches)
    else:
        counted = (r for _, r in parallel_apply_generator(count_fn, batches, workers, max_queue_size))
    for batch_counts in counted:
        table.add(batch_counts)
    return table


def count_tokens(
    lines,
    tokenizer="char",
    n=4,
    workers=1,
    batch_chars=1 << 18,
    max_queue_size=4,
    max_entries=None,
    overflow="spill",
    spill_dir=None,
    engine="local",
    scheduler=None,
):
    """Count tokens of ``lines`` (any iterable of str) into a ``CountTable``.

    workers > 1: batches are counted into small Counters in worker processes
    (``parallel_apply``) and merged here. workers == 1: each batch is counted
    straight into the table, which measured cheaper in CPython than
    batch-and-merge (docs/benchmarks-text.md); the budget is checked per batch.
    engine="dask": batches are counted and merged on a Dask cluster (``scheduler``
    address or Client; None starts ``workers`` local processes), see ``engines``.
    """
    check_engine(engine, scheduler)
    tokenize = get_tokenizer(tokenizer, n)
    table = CountTable(max_entries=max_entries, overflow=overflow, spill_dir=spill_dir)
    batches = batch_lines(lines, batch_chars)
    if engine == "dask":
        with dask_client(scheduler, workers) as client:
            for part in dask_count_batches(batches, count_batch, client, extra_args=(tokenize,)):
                table.add(part)
        return table
    if workers == 1:
        for batch in batches:
            table.add_tokens(chain.from_iterable(map(tokenize, batch)))
        return table
    return count_batches(batches, lambda batch: count_batch(batch, tokenize), workers, max_queue_size, table)


def count_frequent_tokens(
    lines,
    tokenizer="char",
    n=4,
    min_count=1,
    workers=2,
    batch_chars=1 << 18,
    shards=16,
    spill_dir=None,
    max_queue_size=4,
):
    """Exact ``{token: count}`` for tokens seen at least ``min_count`` times, counted
    map-reduce style so the parent process does almost no work:

    map: workers count each batch and write it to disk split into ``shards`` files;
    reduce: workers sum one shard each and return only its frequent tokens.

    Use it when one process's merge is the bottleneck (n-grams with n >= 3) or the
    full table does not fit in RAM: memory per worker is about one shard.
    """
    tokenize = get_tokenizer(tokenizer, n)
    if spill_dir is not None:
        os.makedirs(spill_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kerasformers-mapreduce-", dir=spill_dir) as root:

        def map_batch(indexed_batch):
            index, batch = indexed_batch
            parts = [{} for _ in range(shards)]
            for token, count in count_batch(batch, tokenize).items():
                parts[shard_of(token, shards)][token] = count
            for shard, part in enumerate(parts):
                with open(os.path.join(root, f"{shard:04d}-{index:08d}.pkl"), "wb") as f:
                    pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
            return index

        def reduce_shard(shard):
            table = CountTable()
            prefix = f"{shard:04d}-"
            for name in sorted(os.listdir(root)):
                if name.startswith(prefix):
                    with open(os.path.join(root, name), "rb") as f:
                        table.add(pickle.load(f))
            return table.to_dict(min_count)

        batches = enumerate(batch_lines(lines, batch_chars))
        if workers == 1:
            list(map(map_batch, batches))
            parts = map(reduce_shard, range(shards))
        else:
            for _ in parallel_apply_generator(map_batch, batches, workers, max_queue_size):
                pass
            parts = (
                r for _, r in parallel_apply_generator(reduce_shard, range(shards), workers, max_queue_size)
            )
        result = {}
        for part in parts:  # shards are disjoint: a plain dict update, no addition
            result.update(part)
        return result
