"""Sentence templates by the minimum-entropy principle ("最小熵原理（三）").

A template is a short word sequence whose inner positions may be slots, e.g.
``('《', '_', '》')`` or ``('在', '_', '上')``: the outer words (and any inner words
that are not slots) are its anchors, each slot holds exactly one word. Coding the
anchors of a template together instead of one by one saves

    count(t) * PMI(t),  PMI(t) = log( count(t) * N**(k - 1) / prod count(anchor_i) )

nats (k anchors, N words), which is the minimum-entropy reason to keep it. This
module segments the corpus with a lexicon (``Segmenter``), counts every pattern of
``min_length``..``max_length`` words with at least one slot, and keeps the patterns
seen ``min_count`` times, with ``min_fillers`` different slot fillings (otherwise
it is just a phrase) and ``PMI >= min_pmi``, ordered by the information they save.
"""

import collections
import dataclasses
import itertools
import math

from kerasformers.text.corpus import CONTENT_PATTERN, line_source, write_lines_atomic
from kerasformers.text.segmenter import Segmenter

__all__ = ["SLOT", "Template", "find_templates", "save_templates", "template_rows"]

SLOT = "_"


@dataclasses.dataclass(frozen=True)
class Template:
    pattern: tuple  # words and SLOTs, e.g. ('在', '_', '上')
    count: int
    pmi: float  # natural log
    fillers: int  # distinct slot fillings seen
    examples: tuple  # most frequent slot fillings, each a tuple of words

    @property
    def saving(self):
        """Information saved by coding the anchors together (nats)."""
        return self.count * self.pmi

    def __str__(self):
        return " ".join(self.pattern)


def _masks(length):
    """Slot positions for a pattern of ``length`` words: any non-empty subset of
    the inner positions (the first and last words are always anchors)."""
    inner = range(1, length - 1)
    return [s for r in range(1, length - 1) for s in itertools.combinations(inner, r)]


def _sentences(lines, segmenter, words_only):
    for line in lines:
        words = segmenter.cut(line)
        if words_only:  # split at punctuation: templates never cross it
            run = []
            for word in words:
                if CONTENT_PATTERN.fullmatch(word):
                    run.append(word)
                elif run:
                    yield run
                    run = []
            if run:
                yield run
        else:
            yield words


def _patterns(words, min_length, max_length, frequent_words):
    """(pattern, filler) for every window of ``words`` and every slot mask whose
    anchors are all in ``frequent_words`` (a pattern is never more frequent than
    its rarest anchor, so the others cannot reach min_count)."""
    for length in range(min_length, max_length + 1):
        masks = _masks(length)
        for start in range(len(words) - length + 1):
            window = words[start : start + length]
            if window[0] not in frequent_words or window[-1] not in frequent_words:
                continue
            for mask in masks:
                if any(window[i] not in frequent_words for i in range(1, length - 1) if i not in mask):
                    continue
                pattern = list(window)
                for i in mask:
                    pattern[i] = SLOT
                yield tuple(pattern), tuple(window[i] for i in mask)


def find_templates(
    corpus,
    lexicon,
    min_count=20,
    min_fillers=5,
    min_pmi=1.0,
    min_length=3,
    max_length=4,
    words_only=False,
    examples=5,
    encoding="utf-8",
    errors="strict",
):
    """Templates of ``corpus`` (paths or lines) under the segmentation given by
    ``lexicon`` (a Lexicon, {word: count} or a Segmenter), best first."""
    if not 3 <= min_length <= max_length:
        raise ValueError(f"need 3 <= min_length <= max_length, got {min_length}, {max_length}")
    if min_count < 1 or min_fillers < 1:
        raise ValueError(f"min_count and min_fillers must be >= 1, got {min_count}, {min_fillers}")
    segmenter = lexicon if isinstance(lexicon, Segmenter) else Segmenter(lexicon)
    lines = line_source(corpus, encoding, errors)

    words = collections.Counter()
    for sentence in _sentences(lines(), segmenter, words_only):
        words.update(sentence)
    total = sum(words.values())
    if total == 0:
        raise ValueError("find_templates: the corpus contains no words")
    frequent_words = {w for w, c in words.items() if c >= min_count}
    patterns = collections.Counter()
    for sentence in _sentences(lines(), segmenter, words_only):
        patterns.update(p for p, _ in _patterns(sentence, min_length, max_length, frequent_words))

    frequent = {p: c for p, c in patterns.items() if c >= min_count}
    scores = {}
    for pattern, count in frequent.items():
        anchors = [w for w in pattern if w != SLOT]
        score = (
            math.log(count) + (len(anchors) - 1) * math.log(total) - sum(math.log(words[w]) for w in anchors)
        )
        if score >= min_pmi:
            scores[pattern] = score
    fillers = collections.defaultdict(collections.Counter)  # last pass: only for the kept patterns
    for sentence in _sentences(lines(), segmenter, words_only):
        for pattern, filler in _patterns(sentence, min_length, max_length, frequent_words):
            if pattern in scores:
                fillers[pattern][filler] += 1
    templates = [
        Template(p, frequent[p], s, len(fillers[p]), tuple(f for f, _ in fillers[p].most_common(examples)))
        for p, s in scores.items()
        if len(fillers[p]) >= min_fillers
    ]
    templates.sort(key=lambda t: (-t.saving, t.pattern))
    return templates


def template_rows(templates):
    """TSV rows: template, count, PMI, distinct fillers, example fillers (``|``-separated)."""
    for t in templates:
        yield f"{t}\t{t.count}\t{t.pmi:.4f}\t{t.fillers}\t{'|'.join(' '.join(f) for f in t.examples)}"


def save_templates(path, templates):
    """Write ``template_rows`` atomically."""
    write_lines_atomic(path, template_rows(templates))
