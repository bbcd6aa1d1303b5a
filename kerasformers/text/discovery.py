"""New-word discovery from raw text by n-gram cohesion ("更好的新词发现算法").

1. Count all character n-grams up to ``max_n``.
2. Keep n-grams (length >= 2) seen at least ``min_count`` times whose cohesion
   min over split points of  N * count(w) / (count(left) * count(right))
   (N = number of characters) reaches ``min_proba[len(w)]``.
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
import math
from typing import Dict, Optional

import ahocorasick

from kerasformers.text.corpus import batch_lines, content_pieces, line_source
from kerasformers.text.counting import CountTable, count_batches, count_tokens
from kerasformers.text.lexicon import Lexicon, LexiconEntry

__all__ = ["DiscoveryConfig", "cohesion", "select_ngrams", "presegment", "discover_words"]


@dataclasses.dataclass
class DiscoveryConfig:
    max_n: int = 4
    min_count: int = 32  # scale with corpus size: ~3 for 2M characters, 32 for 100M+
    min_proba: Dict[int, float] = dataclasses.field(default_factory=lambda: {2: 5, 3: 25, 4: 125})
    min_word_count: Optional[int] = None  # None: same as min_count
    strict_trigrams: bool = True

    def __post_init__(self):
        if self.max_n < 2:
            raise ValueError(f"max_n must be >= 2, got {self.max_n}")
        missing = [n for n in range(2, self.max_n + 1) if n not in self.min_proba]
        if missing:
            raise ValueError(f"min_proba has no threshold for n-gram length(s) {missing}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")


def cohesion(ngram, counts, total):
    """min over split points of total * count(ngram) / (count(left) * count(right))."""
    if len(ngram) < 2:
        raise ValueError(f"cohesion needs at least 2 characters, got {ngram!r}")
    c = counts[ngram]
    return min(total * c / (counts[ngram[:i]] * counts[ngram[i:]]) for i in range(1, len(ngram)))


def select_ngrams(counts, total, min_count, min_proba):
    """The n-grams passing the count and per-length cohesion thresholds -> cohesion."""
    kept = {}
    for ngram, count in counts.items():
        if len(ngram) >= 2 and count >= min_count and len(ngram) in min_proba:
            try:
                score = cohesion(ngram, counts, total)
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
    **overrides,
):
    """Discover a lexicon (word -> count, cohesion score) from raw text.

    corpus: file path(s) or a list of text lines. ``overrides`` set DiscoveryConfig
    fields directly, e.g. ``discover_words(paths, min_count=3)``. ``max_entries`` /
    ``overflow`` bound the n-gram and candidate tables (see ``CountTable``); the
    default "spill" keeps counts exact.
    """
    config = dataclasses.replace(config or DiscoveryConfig(), **overrides)
    lines = line_source(corpus, encoding, errors, progress)

    with count_tokens(
        lines(), tokenizer="ngram", n=config.max_n, workers=workers,
        max_entries=max_entries, overflow=overflow,
    ) as table:
        total, counts = 0, {}
        for ngram, count in table.items():  # one streaming pass: N and the frequent n-grams
            if len(ngram) == 1:
                total += count
            if count >= config.min_count:
                counts[ngram] = count
    if total == 0:
        raise ValueError("discover_words: the corpus contains no word characters")
    kept = select_ngrams(counts, total, config.min_count, config.min_proba)
    automaton = _automaton(list(kept))

    def chunk_batch(batch):
        return collections.Counter(
            chunk for line in batch for piece in content_pieces(line)
            for chunk in presegment(piece, automaton)
        )

    min_word_count = config.min_word_count or config.min_count
    lexicon = Lexicon()
    with count_batches(
        batch_lines(lines()), chunk_batch, workers,
        table=CountTable(max_entries=max_entries, overflow=overflow),
    ) as candidates:
        for word, count in candidates.items(min_word_count):
            if _is_word(word, kept, config.max_n, config.strict_trigrams):
                lexicon[word] = LexiconEntry(count, _word_score(word, kept, config.max_n))
    return lexicon
