"""load_vocab / save_vocab / train_wordpiece_vocab on the real bert-base-chinese vocab
and the review corpus."""

import numpy as np
import pytest
from transformers import BertTokenizerFast

from kerasformers.tokenizers import Tokenizer, load_vocab, save_vocab, train_wordpiece_vocab
from kerasformers.tokenizers._chars import is_cjk, is_punctuation

from .conftest import reviews


def test_load_vocab_matches_the_file(vocab_path):
    token_dict = load_vocab(vocab_path)
    lines = open(vocab_path, encoding="utf-8").read().split("\n")[:-1]
    assert len(token_dict) == len(lines) == 21128
    assert [token_dict[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 100, 101, 102, 103]
    assert token_dict["中"] == lines.index("中")


def test_simplified_vocab(vocab_path):
    full = load_vocab(vocab_path)
    starts = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    token_dict, keep_tokens = load_vocab(vocab_path, simplified=True, startswith=starts)
    inverse = {i: t for t, i in full.items()}
    # keep_tokens[i] is the original id of new token i, so embedding rows can follow.
    assert [inverse[k] for k in keep_tokens] == sorted(token_dict, key=token_dict.get)
    assert list(token_dict)[:4] == starts and keep_tokens[:4] == [0, 100, 101, 102]
    dropped = set(full) - set(token_dict)
    assert "##中" in dropped and "##，" in dropped and "中" in token_dict and "##ing" in token_dict
    for token in dropped:  # exactly the tokens that can never be produced
        stem = token[2:] if token.startswith("##") else token
        assert len(token) > 1 and any(is_cjk(c) or is_punctuation(c) for c in stem)
    assert 13000 < len(token_dict) < 14000
    # The reduced tokenizer gives the same tokens for real text.
    small, big = Tokenizer(token_dict, do_lower_case=True), Tokenizer(vocab_path, do_lower_case=True)
    for text in reviews()[::400]:
        ids = small.encode(text)[0]
        assert [keep_tokens[i] for i in ids] == big.encode(text)[0]


def test_save_vocab_round_trip(tmp_path, vocab_path):
    token_dict, _ = load_vocab(vocab_path, simplified=True, startswith=["[PAD]", "[UNK]"])
    path = tmp_path / "small.txt"
    save_vocab(str(path), token_dict)
    assert load_vocab(str(path)) == token_dict
    assert [p.name for p in tmp_path.iterdir()] == ["small.txt"]  # no temp file left behind
    with pytest.raises(ValueError, match="contains whitespace"):
        save_vocab(str(tmp_path / "bad.txt"), {"a b": 0})
    with pytest.raises(ValueError, match="startswith token"):
        load_vocab(vocab_path, simplified=True, startswith=["[NOPE]"])


def test_train_wordpiece_vocab_gives_a_working_chinese_vocab(tmp_path):
    corpus = reviews()[::20]
    path = tmp_path / "vocab.txt"
    token_dict = train_wordpiece_vocab(corpus, vocab_size=3000, dict_path=str(path))
    assert list(token_dict)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 2000 < len(token_dict) <= 3000 and load_vocab(str(path)) == token_dict
    assert sum(len(t) == 1 and is_cjk(t) for t in token_dict) > 1500  # Chinese characters
    ours = Tokenizer(str(path), do_lower_case=True)
    hf = BertTokenizerFast(str(path), do_lower_case=True)
    texts = reviews()[1::50]
    ids, _ = ours.encode_batch(texts)
    expected = hf(texts, padding=True, return_tensors="np")["input_ids"]
    np.testing.assert_array_equal(ids, expected)
    unk_rate = (ids == ours._token_unk_id).sum() / (ids != 0).sum()
    assert unk_rate < 0.02
    with pytest.raises(ValueError, match="no room"):
        train_wordpiece_vocab(corpus, vocab_size=5)
    with pytest.raises(ValueError, match="not one string"):
        train_wordpiece_vocab("one text", vocab_size=100)
