"""A lexicon: word -> (count, score), stored as a three-column TSV."""

import dataclasses
import math
import os

from kerasformers.text.corpus import write_lines_atomic

__all__ = ["Lexicon", "LexiconEntry"]


@dataclasses.dataclass(frozen=True)
class LexiconEntry:
    count: int
    score: float  # method-specific: cohesion (discovery) or PMI (min-entropy)


class Lexicon(dict):
    """``dict`` of word -> LexiconEntry with TSV input/output.

    The TSV has one ``word<TAB>count<TAB>score`` line per word, most frequent first.
    """

    def counts(self):
        return {word: entry.count for word, entry in self.items()}

    def save(self, path):
        """Write the TSV atomically, most frequent words first."""
        ordered = sorted(self.items(), key=lambda kv: (-kv[1].count, kv[0]))
        write_lines_atomic(path, (f"{w}\t{e.count}\t{e.score:.6g}" for w, e in ordered))

    @classmethod
    def load(cls, path):
        """Read a TSV written by ``save`` (a missing score column reads as NaN)."""
        path = os.fspath(path)
        lexicon = cls()
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                fields = line.split("\t")
                if len(fields) not in (2, 3) or not fields[0]:
                    raise ValueError(f"{path}:{number}: expected 'word<TAB>count[<TAB>score]', got {line!r}")
                try:
                    count = int(fields[1])
                    score = float(fields[2]) if len(fields) == 3 else math.nan
                except ValueError:
                    raise ValueError(f"{path}:{number}: count/score are not numbers: {line!r}") from None
                if count < 1:
                    raise ValueError(f"{path}:{number}: count must be positive, got {count}")
                lexicon[fields[0]] = LexiconEntry(count, score)
        return lexicon
