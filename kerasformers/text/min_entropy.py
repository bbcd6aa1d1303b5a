"""Lexicon construction by the minimum-entropy principle ("最小熵原理（二）").

Start from single characters. Repeatedly: segment the corpus with the current
lexicon (unigram LM, ``Segmenter``), count the units and their adjacent pairs,
and merge every pair (a, b) seen at least ``min_count`` times whose pointwise
mutual information

    PMI(a, b) = log( N * count(ab) / (count(a) * count(b)) ),  N = number of units

reaches ``min_pmi``: such a merge lowers the average information needed to write
the corpus down. Stops after ``iterations`` rounds or when nothing merges.
"""

import collections
import itertools
import math

from kerasformers.data.parallel import parallel_apply_generator
from kerasformers.text.corpus import batch_lines, content_pieces, line_source
from kerasformers.text.lexicon import Lexicon, LexiconEntry
from kerasformers.text.segmenter import Segmenter

__all__ = ["build_lexicon_by_pmi", "count_units_and_pairs", "merge_by_pmi", "pmi"]


def pmi(pair_count, left_count, right_count, total):
    """log(total * count(ab) / (count(a) * count(b)))."""
    return math.log(total * pair_count / (left_count * right_count))


def count_units_and_pairs(lines, segmenter):
    """Unit counts and adjacent-pair counts of ``lines`` segmented by ``segmenter``."""
    units, pairs = collections.Counter(), collections.Counter()
    for line in lines:
        for piece in content_pieces(line):
            words = segmenter.cut_piece(piece)
            units.update(words)
            pairs.update(itertools.pairwise(words))
    return units, pairs


def merge_by_pmi(units, pairs, min_count, min_pmi):
    """The merged words (a + b -> (count(ab), PMI)) whose pair passes both thresholds."""
    total = sum(units.values())
    merged = {}
    for (left, right), count in pairs.items():
        if count < min_count:
            continue
        score = pmi(count, units[left], units[right], total)
        word = left + right
        if score >= min_pmi and merged.get(word, (0, -math.inf))[1] < score:
            merged[word] = (count, score)
    return merged


def _count(lines, segmenter, workers):
    units, pairs = collections.Counter(), collections.Counter()
    batches = batch_lines(lines)
    if workers == 1:
        results = (count_units_and_pairs(batch, segmenter) for batch in batches)
    else:
        results = (
            r
            for _, r in parallel_apply_generator(
                lambda batch: count_units_and_pairs(batch, segmenter), batches, workers, 4
            )
        )
    for batch_units, batch_pairs in results:
        units.update(batch_units)
        pairs.update(batch_pairs)
    return units, pairs


def build_lexicon_by_pmi(
    corpus,
    min_count=16,
    min_pmi=1.0,
    iterations=3,
    workers=1,
    encoding="utf-8",
    errors="strict",
    progress=False,
):
    """Grow a lexicon from characters by PMI merges; counts are from the final
    segmentation, scores are the PMI at which each word was merged (0 for characters
    and for units that never merged)."""
    if min_count < 1 or iterations < 1:
        raise ValueError(f"min_count and iterations must be >= 1, got {min_count}, {iterations}")
    lines = line_source(corpus, encoding, errors, progress)
    counts = collections.Counter(ch for line in lines() for piece in content_pieces(line) for ch in piece)
    if not counts:
        raise ValueError("build_lexicon_by_pmi: the corpus contains no word characters")
    scores = {}
    for _ in range(iterations):
        units, pairs = _count(lines(), Segmenter(counts), workers)
        merged = {w: v for w, v in merge_by_pmi(units, pairs, min_count, min_pmi).items() if w not in units}
        if not merged:
            break
        counts = collections.Counter({w: c for w, c in units.items() if c >= min_count or len(w) == 1})
        for word, (count, score) in merged.items():
            counts[word] = count
            scores[word] = score
    units, _ = _count(lines(), Segmenter(counts), workers)
    return Lexicon(
        (w, LexiconEntry(c, scores.get(w, 0.0))) for w, c in units.items() if c >= min_count or len(w) == 1
    )
