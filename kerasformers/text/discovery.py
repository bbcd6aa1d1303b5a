"""New-word discovery from raw text by n-gram cohesion ("更好的新词发现算法").

1. Count all character n-grams up to ``max_n``.
2. Keep n-grams (length >= 2) seen at least ``min_count`` times whose cohesion
   min over split points of  N * (count(w) - d) / (count(left) * count(right))
   (N = number of characters) reaches ``min_proba[len(w)]``. The absolute discount
   d = n1 / (n1 + 2 n2) (n1, n2: n-grams of that length seen once, twice; Ney et
   al. 1994) is estimated from the corpus: it tempers the cohesion of rare n-grams,
   whose counts are mostly chance (``discount=False``: d = 0, the article's formula).
3. Pre-segment the corpus: two neighbouring characters stay together when some
   kept n-gram covers both. The resulting chunks are the candidate words.
4. Keep candidates seen at least ``min_word_count`` times whose inner n-grams are
   all kept (for words of 3+ characters every ``max_n``-gram inside; with
   ``strict_trigrams`` a 3-character word must itself be kept).

The corpus is read twice (count, then pre-segment), so pass file paths or a list
of lines, not a one-shot iterator.
"""

import collections
import dataclasses
import functools
import math

import ahocorasick

from kerasformers.text.corpus import batch_lines, content_pieces, line_source
from kerasformers.text.counting import CountTable, NgramTokenizer, count_batch, count_batches, count_tokens
from kerasformers.text.engines import check_engine, dask_client, dask_count_batches
from kerasformers.text.lexicon import Lexicon, LexiconEntry

__all__ = ["DiscoveryConfig", "cohesion", "discover_words", "presegment", "select_ngrams"]


@dataclasses.dataclass
class DiscoveryConfig:
    """Thresholds; the defaults were chosen on another corpus (docs/benchmarks-text.md).

    min_count None: ``auto_min_count(N)`` for a corpus of N characters. min_proba
    None: ``cohesion_base ** (n - 1)`` for n-grams of length n.
    """

    max_n: int = 4
    min_count: int | None = None
    cohesion_base: float = 6.0
    min_proba: dict[int, float] | None = None
    min_word_count: int | None = None  # None: same as min_count
    strict_trigrams: bool = True
    discount: bool = True

    def __post_init__(self):
        if self.max_n < 2:
            raise ValueError(f"max_n must be >= 2, got {self.max_n}")
        if self.cohesion_base <= 0:
            raise ValueError(f"cohesion_base must be positive, got {self.cohesion_base}")
        missing = [n for n in range(2, self.max_n + 1) if n not in self.thresholds]
        if missing:
            raise ValueError(f"min_proba has no threshold for n-gram length(s) {missing}")
        if self.min_count is not None and self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")

    @property
    def thresholds(self):
        """Cohesion threshold per n-gram length: ``min_proba`` or ``cohesion_base ** (n - 1)``."""
        if self.min_proba is not None:
            return self.min_proba
        return {n: self.cohesion_base ** (n - 1) for n in range(2, self.max_n + 1)}

    def resolved(self, total_chars):
        """A copy with ``min_count`` fixed for a corpus of ``total_chars`` characters."""
        if self.min_count is not None:
            return self
        return dataclasses.replace(self, min_count=auto_min_count(total_chars))


def auto_min_count(total_chars):
    """max(2, round(sqrt(N) / 500)): 2 up to ~1.5M characters, 3 for 2M, 20 for 100M."""
    return max(2, round(math.sqrt(total_chars) / 500))


def cohesion(ngram, counts, total, discount=0.0):
    """min over split points of total * (count(ngram) - discount) / (count(left) * count(right))."""
    if len(ngram) < 2:
        raise ValueError(f"cohesion needs at least 2 characters, got {ngram!r}")
    c = counts[ngram] - discount
    return min(total * c / (counts[ngram[:i]] * counts[ngram[i:]]) for i in range(1, len(ngram)))


def absolute_discounts(count_of_counts):
    """{n: n1 / (n1 + 2 n2)} from {(n-gram length, count): how many n-grams}."""
    lengths = {n for n, _ in count_of_counts}
    discounts = {}
    for n in lengths:
        n1, n2 = count_of_counts.get((n, 1), 0), count_of_counts.get((n, 2), 0)
        discounts[n] = n1 / (n1 + 2 * n2) if n1 + n2 else 0.0
    return discounts


def select_ngrams(counts, total, min_count, min_proba, discounts=None):
    """The n-grams passing the count and per-length cohesion thresholds -> cohesion."""
    discounts = discounts or {}
    kept = {}
    for ngram, count in counts.items():
        if len(ngram) >= 2 and count >= min_count and len(ngram) in min_proba:
            try:
                score = cohesion(ngram, counts, total, discounts.get(len(ngram), 0.0))
            except KeyError:  # a part was pruned away (approximate counting): skip
                continue
            if score >= min_proba[len(ngram)]:
                kept[ngram] = score
    return kept


def _automaton(words):
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, len(word))
    if words:
        automaton.make_automaton()
    return automaton


def presegment(piece, automaton):
    """Split ``piece`` between neighbours that no kept n-gram covers together."""
    if not piece:
        return []
    linked = [False] * len(piece)  # linked[i]: piece[i] and piece[i + 1] stay together
    if len(automaton):
        for end, length in automaton.iter(piece):
            for i in range(end - length + 1, end):
                linked[i] = True
    chunks, start = [], 0
    for i in range(len(piece) - 1):
        if not linked[i]:
            chunks.append(piece[start : i + 1])
            start = i + 1
    chunks.append(piece[start:])
    return chunks


def _is_word(word, kept, max_n, strict_trigrams):
    if len(word) < 3:
        return True
    k = min(len(word), max_n)
    if k < max_n and not strict_trigrams:
        return True
    return all(word[i : i + k] in kept for i in range(len(word) - k + 1))


def _word_score(word, kept, max_n):
    """Cohesion of a kept n-gram; for longer words, that of their weakest inner
    ``max_n``-gram; 0 for single characters."""
    if len(word) == 1:
        return 0.0
    if word in kept:
        return float(kept[word])
    inner = [kept.get(word[i : i + max_n], math.nan) for i in range(len(word) - max_n + 1)]
    return float(min(inner)) if inner else math.nan


def discover_words(
    corpus,
    config=None,
    workers=1,
    encoding="utf-8",
    errors="strict",
    max_entries=None,
    overflow="spill",
    progress=False,
    engine="local",
    scheduler=None,
    **overrides,
):
    """Discover a lexicon (word -> count, cohesion score) from raw text.

    corpus: file path(s) or a list of text lines. ``overrides`` set DiscoveryConfig
    fields directly, e.g. ``discover_words(paths, min_count=3)``. ``max_entries`` /
    ``overflow`` bound the n-gram and candidate tables (see ``CountTable``); the
    default "spill" keeps counts exact. ``engine="dask"`` counts on a Dask cluster
    (``scheduler`` address or Client; None starts ``workers`` local processes) and
    gives the same lexicon.
    """
    check_engine(engine, scheduler)
    config = dataclasses.replace(config or DiscoveryConfig(), **overrides)
    lines = line_source(corpus, encoding, errors, progress)
    if engine == "dask":
        with dask_client(scheduler, workers) as client:
            return _discover_on_dask(lines, config, client)

    with count_tokens(
        lines(),
        tokenizer="ngram",
        n=config.max_n,
        workers=workers,
        max_entries=max_entries,
        overflow=overflow,
    ) as table:
        total, rare = 0, collections.Counter()
        for ngram, count in table.items():
            total += count if len(ngram) == 1 else 0
            if count <= 2:
                rare[len(ngram), count] += 1
        config = config.resolved(total)
        counts = dict(table.items(config.min_count))
    kept = _kept_ngrams(counts, total, config, rare)
    chunk_batch = functools.partial(count_chunks, automaton=_automaton(list(kept)))
    with count_batches(
        batch_lines(lines()),
        chunk_batch,
        workers,
        table=CountTable(max_entries=max_entries, overflow=overflow),
    ) as candidates:
        return _lexicon(candidates.items(_min_word_count(config)), kept, config)


def count_chunks(batch, automaton):
    """Counts of the pre-segmented chunks of a batch of lines."""
    return collections.Counter(
        chunk for line in batch for piece in content_pieces(line) for chunk in presegment(piece, automaton)
    )


def _min_word_count(config):
    return config.min_word_count or config.min_count


def _kept_ngrams(counts, total, config, rare_counts):
    """rare_counts: {(length, count): n-grams} for counts 1 and 2 (at least)."""
    if total == 0:
        raise ValueError("discover_words: the corpus contains no word characters")
    discounts = absolute_discounts(rare_counts) if config.discount else None
    return select_ngrams(counts, total, config.min_count, config.thresholds, discounts)


def _lexicon(candidates, kept, config):
    lexicon = Lexicon()
    for word, count in candidates:
        if _is_word(word, kept, config.max_n, config.strict_trigrams):
            lexicon[word] = LexiconEntry(count, _word_score(word, kept, config.max_n))
    return lexicon


def _discover_on_dask(lines, config, client):
    """The same passes with counting on the cluster. The client streams the lines
    and counts the characters (N) itself, so only frequent n-grams come back."""
    total = 0

    def counted(line_iter):
        nonlocal total
        for line in line_iter:
            total += sum(map(len, content_pieces(line)))
            yield line

    def resolved_min_count():  # called once every line has been read
        nonlocal config
        config = config.resolved(total)
        return config.min_count

    def summed(batches, count_fn, min_count, extra_args, rare_counts=None):
        result = {}
        for part in dask_count_batches(
            batches, count_fn, client, min_count=min_count, extra_args=extra_args, rare_counts=rare_counts
        ):
            result.update(part)  # shards are disjoint
        return result

    rare = collections.Counter()
    counts = summed(
        batch_lines(counted(lines())), count_batch, resolved_min_count, (NgramTokenizer(config.max_n),), rare
    )
    rare = collections.Counter({key: ngrams for key, ngrams in rare.items() if key[1] <= 2})
    rare.update((len(ngram), count) for ngram, count in counts.items() if count <= 2)  # min_count <= 2
    kept = _kept_ngrams(counts, total, config, rare)
    [automaton] = client.scatter([_automaton(list(kept))], broadcast=True)
    candidates = summed(batch_lines(lines()), count_chunks, _min_word_count(config), (automaton,))
    return _lexicon(candidates.items(), kept, config)
