"""U+2028 / U+2029 separate words as in bert4keras, whose ``str.split()`` treats them as spaces.

The expected tokens, ids and rematch offsets are bert4keras 0.11.5's own output on the real
bert-base-chinese vocabulary (recorded with the oracle venv; see docs/migration.md).
"""

import os

import pytest

from kerasformers.tokenizers import Tokenizer

VOCAB = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vocab", "bert-base-chinese-vocab.txt")
BERT4KERAS = [
    ("a\u2028b", ["[CLS]", "a", "b", "[SEP]"], [101, 143, 144, 102], [[], [0], [2], []]),
    (
        "中\u2029文 x",
        ["[CLS]", "中", "文", "x", "[SEP]"],
        [101, 704, 3152, 166, 102],
        [[], [0], [2], [4], []],
    ),
    (
        "hello\u2028world\u2029!",
        ["[CLS]", "hello", "world", "!", "[SEP]"],
        [101, 8701, 8572, 106, 102],
        [[], [0, 1, 2, 3, 4], [6, 7, 8, 9, 10], [12], []],
    ),
    ("\u2028\u2028", ["[CLS]", "[SEP]"], [101, 102], [[], []]),
    (
        "ab\x0bcd\x85e\x1cf",
        ["[CLS]", "abc", "##de", "##f", "[SEP]"],
        [101, 8425, 8510, 8189, 102],
        [[], [0, 1, 3], [4, 6], [8], []],
    ),
]


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer(VOCAB, do_lower_case=True)


@pytest.mark.parametrize("text, tokens, ids, offsets", BERT4KERAS)
def test_separators_match_bert4keras(tokenizer, text, tokens, ids, offsets):
    assert tokenizer.tokenize(text) == tokens
    assert tokenizer.encode(text)[0] == ids
    assert tokenizer.rematch(text, tokens) == offsets
