"""Unigram-language-model word segmentation with any lexicon.

A sentence is cut into the word sequence with the highest unigram probability,
i.e. the lowest total cost sum(-log p(w)), p(w) = count(w) / total. Dynamic
programming over end positions; the candidate words ending at each position come
from one Aho-Corasick pass (pyahocorasick) over the sentence. Any single
character is always a candidate, so every string can be segmented.
"""

import math
import re

import ahocorasick

from kerasformers.text.corpus import CONTENT_PATTERN
from kerasformers.text.lexicon import Lexicon

__all__ = ["Segmenter"]

_SEPARATOR_RUN = re.compile(r"(\S)\1*")  # runs of one repeated symbol, e.g. "——" or "……"


class Segmenter:
    """Cut text into words with a unigram LM built from ``lexicon`` counts.

    lexicon: Mapping word -> count (or a ``Lexicon``). Characters missing from it
    get count ``unknown_count``.
    """

    def __init__(self, lexicon, unknown_count=0.5):
        counts = {}
        for word, value in lexicon.items():
            count = getattr(value, "count", value)
            if not word or count <= 0:
                raise ValueError(
                    f"lexicon entry {word!r}: need a non-empty word and a positive count, got {count}"
                )
            counts[word] = count
        if unknown_count <= 0:
            raise ValueError(f"unknown_count must be positive, got {unknown_count}")
        self.total = float(sum(counts.values())) or 1.0
        log_total = math.log(self.total)
        self.unknown_cost = log_total - math.log(unknown_count)
        self.char_cost = {w: log_total - math.log(c) for w, c in counts.items() if len(w) == 1}
        self.word_costs = {w: log_total - math.log(c) for w, c in counts.items() if len(w) > 1}
        self._automaton = None
        if self.word_costs:
            self._automaton = ahocorasick.Automaton()
            for word, cost in self.word_costs.items():
                self._automaton.add_word(word, (len(word), cost))
            self._automaton.make_automaton()

    @classmethod
    def from_tsv(cls, path, unknown_count=0.5):
        return cls(Lexicon.load(path), unknown_count=unknown_count)

    def cost(self, word):
        """-log p(word); single unknown characters cost ``unknown_cost``."""
        if len(word) == 1:
            return self.char_cost.get(word, self.unknown_cost)
        return self.word_costs.get(word, math.inf)

    def cut_piece(self, piece):
        """Best segmentation of a string by DP (no punctuation handling)."""
        n = len(piece)
        if n == 0:
            return []
        # best[e]: lowest cost of piece[:e]; step[e]: length of the last word there.
        best = [0.0] + [math.inf] * n
        step = [0] * (n + 1)
        ending_at = [[] for _ in range(n + 1)]
        if self._automaton is not None:
            for end, (length, cost) in self._automaton.iter(piece):
                ending_at[end + 1].append((length, cost))
        char_cost, unknown = self.char_cost, self.unknown_cost
        for e in range(1, n + 1):
            best[e] = best[e - 1] + char_cost.get(piece[e - 1], unknown)
            step[e] = 1
            for length, cost in ending_at[e]:
                candidate = best[e - length] + cost
                if candidate < best[e]:
                    best[e], step[e] = candidate, length
        words, e = [], n
        while e > 0:
            words.append(piece[e - step[e] : e])
            e -= step[e]
        return words[::-1]

    def cut(self, text):
        """Segment a text: word characters by DP, each run of one symbol as a token,
        whitespace dropped."""
        words, position = [], 0
        for match in CONTENT_PATTERN.finditer(text):
            words.extend(m.group() for m in _SEPARATOR_RUN.finditer(text, position, match.start()))
            words.extend(self.cut_piece(match.group()))
            position = match.end()
        words.extend(m.group() for m in _SEPARATOR_RUN.finditer(text, position))
        return words

    __call__ = cut
