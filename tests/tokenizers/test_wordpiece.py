"""bert4keras behaviour of ``Tokenizer``: known answers, truncation against a brute-force
reference, offsets on the corpora, property tests over arbitrary Unicode, bad input."""

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.tokenizers import Tokenizer, lowercase_and_normalize
from kerasformers.tokenizers._chars import is_control


@pytest.fixture(scope="module")
def lower(vocab_path):
    return Tokenizer(vocab_path, do_lower_case=True)


@pytest.fixture(scope="module")
def cased(vocab_path):
    return Tokenizer(vocab_path, do_lower_case=False)


def normalized(text, do_lower_case):
    """Reference normalisation written out per character, as bert4keras documents it."""
    if do_lower_case:
        text = lowercase_and_normalize(text)
    return "".join(ch for ch in text if not is_control(ch))


# ---- known answers --------------------------------------------------------------------


def test_known_tokens(lower, cased):
    assert lower.tokenize("你好，World! Café") == ["[CLS]", "你", "好", "，", "world", "!", "cafe", "[SEP]"]
    assert cased.tokenize("你好 World") == ["[CLS]", "你", "好", "World", "[SEP]"]
    assert cased.encode("你好 World")[0][-2] == cased._token_unk_id  # 'World' is not in the cased vocab
    assert lower.tokenize("我爱你们", maxlen=4) == ["[CLS]", "我", "爱", "[SEP]"]
    assert lower.tokenize("a\x00b\u200bc\td") == ["[CLS]", "abc", "d", "[SEP]"]  # controls vanish, tab splits


def test_known_encode(lower):
    cls, sep = lower._token_start_id, lower._token_end_id
    a, b = lower.token_to_id("我"), lower.token_to_id("你")
    assert lower.encode("我") == ([cls, a, sep], [0, 0, 0])
    assert lower.encode("我", "你") == ([cls, a, sep, b, sep], [0, 0, 0, 1, 1])
    assert lower.encode("我", "你", pattern="S*ES*E") == ([cls, a, sep, cls, b, sep], [0, 0, 0, 1, 1, 1])
    assert lower.encode("我我我", "你", maxlen=5)[0] == [cls, a, sep, b, sep]
    assert lower.encode(["[CLS]", "我", "[SEP]"]) == ([cls, a, sep], [0, 0, 0])  # token lists pass through
    assert (lower._token_pad_id, lower._token_unk_id, lower._token_mask_id) == (0, 100, 103)
    assert lower.vocab_size == 21128 and lower.id_to_token(lower.token_to_id("中")) == "中"


def test_decode(lower):
    ids = lower.encode("我爱Python编程，it's 3.5 GHz！")[0]
    assert lower.decode(ids) == "我爱python编程，it's 3.5 ghz！"
    assert lower.decode(None, tokens=["[CLS]", "un", "##aff", "##able", "text", "[SEP]"]) == "unaffable text"


def test_pre_tokenize_and_token_translate(tmp_path, vocab_path):
    # A whole-word vocabulary: '中国' is one token, jieba-like pre_tokenize gives words.
    token_dict = {
        t: i
        for i, t in enumerate(
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中国", "中", "国", "人", "##人"]
        )
    }
    words = Tokenizer(token_dict, pre_tokenize=lambda text: ["中国", "人民"])
    assert words.tokenize("中国人民") == ["[CLS]", "中国", "人", "民", "[SEP]"]
    assert words.encode("中国人民")[0] == [2, 5, 8, 1, 3]
    ids, _, offsets = words.encode_batch(["中国人民"], return_offsets=True)
    assert offsets[0].tolist() == [[0, 0], [0, 2], [2, 3], [3, 4], [0, 0]]
    translated = Tokenizer(token_dict, token_translate={"国": "[MASK]"})
    assert translated.tokenize("中国") == ["[CLS]", "中", "[MASK]", "[SEP]"]
    assert translated.encode("中国")[0] == [2, 6, 4, 3]
    assert translated.decode([2, 6, 4, 3]) == "中"  # as in bert4keras, decode drops [MASK]


# ---- truncation against bert4keras's documented pop loop ------------------------------


def reference_truncate(maxlen, index, *sequences):
    sequences = [list(s) for s in sequences if s]
    while sum(map(len, sequences)) > maxlen:
        longest = int(np.argmax([len(s) for s in sequences]))
        sequences[longest].pop(index)
    return sequences


@settings(max_examples=50, deadline=None)
@given(
    n1=st.integers(0, 12),
    n2=st.one_of(st.none(), st.integers(0, 12)),
    maxlen=st.integers(4, 30),
    pattern=st.sampled_from(["S*E*E", "S*ES*E"]),
    side=st.sampled_from(["right", "left"]),
)
def test_truncation_matches_reference(lower, n1, n2, maxlen, pattern, side):
    first = "".join(random.Random(n1).choice("我你他她它们的") for _ in range(n1))
    second = None if n2 is None else "".join(random.Random(n2 + 99).choice("山水花鸟") for _ in range(n2))
    full1 = lower.tokenize(first)
    full2 = None if second is None else lower.tokenize(second)
    budget = maxlen + 1 if second is not None and pattern == "S*E*E" else maxlen
    kept = reference_truncate(budget, -2 if side == "right" else 1, full1, full2)
    expected = kept[0] + (kept[1][1 if pattern == "S*E*E" else 0 :] if second is not None else [])
    ids, segments = lower.encode(first, second, maxlen=maxlen, pattern=pattern, truncate_from=side)
    assert ids == lower.tokens_to_ids(expected)
    assert segments == [0] * len(kept[0]) + [1] * (len(expected) - len(kept[0]))
    batch_ids, batch_segments = lower.encode_batch(
        [first], None if second is None else [second], maxlen=maxlen, pattern=pattern, truncate_from=side
    )
    assert batch_ids[0, : len(ids)].tolist() == ids and batch_segments[0, : len(ids)].tolist() == segments


# ---- offsets --------------------------------------------------------------------------


def check_offsets(tokenizer, text, ids, offsets, do_lower_case):
    """Every token's characters, normalised, reproduce the token; spans stay in order."""
    previous_end = 0
    for token_id, (start, end) in zip(ids, offsets):
        token = tokenizer.id_to_token(int(token_id))
        if token in ("[CLS]", "[SEP]", "[PAD]"):
            assert (start, end) == (0, 0)
            continue
        assert 0 <= start < end <= len(text) and start >= previous_end
        previous_end = end
        if token != "[UNK]":
            assert normalized(text[start:end], do_lower_case) == tokenizer.stem(token), (text, token)


def test_offsets_and_rematch_on_corpus(lower, texts):
    sample = texts[::25]  # the full corpus is compared with HF's offsets in test_bert_parity
    ids, _, offsets = lower.encode_batch(sample, return_offsets=True)
    for text, row_ids, row_offsets in zip(sample, ids, offsets):
        n = int((row_ids != 0).sum())
        check_offsets(lower, text, row_ids[:n], row_offsets[:n], True)
        spans = lower.rematch(text, lower.tokenize(text))
        assert [[s, e] if s or e else [0, 0] for s, e in row_offsets[:n].tolist()] == [
            [m[0], m[-1] + 1] if m else [0, 0] for m in spans
        ]


def test_rematch_tracks_length_changing_normalisation(lower):
    text = "İSTANBUL\u200b Ａbc ÉCOLE"  # 'İ'.lower() is 2 characters; U+200B is deleted
    tokens = lower.tokenize(text)
    mapping = lower.rematch(text, tokens)
    for token, chars in zip(tokens, mapping):
        if chars:
            assert normalized("".join(text[i] for i in chars), True) == lower.stem(token)
    ids, _, offsets = lower.encode_batch([text], return_offsets=True)
    check_offsets(lower, text, ids[0], offsets[0], True)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=60), do_lower_case=st.booleans())
def test_arbitrary_unicode(lower, cased, text, do_lower_case):
    tokenizer = lower if do_lower_case else cased
    ids, segments = tokenizer.encode(text)
    batch_ids, _, offsets = tokenizer.encode_batch([text], return_offsets=True)
    assert batch_ids[0].tolist() == ids and segments == [0] * len(ids)
    check_offsets(tokenizer, text, ids, offsets[0], do_lower_case)
    tokens = tokenizer.tokenize(text)
    for _token, chars in zip(tokens, tokenizer.rematch(text, tokens)):
        assert chars == sorted(chars) and all(0 <= c < len(text) for c in chars)


@pytest.fixture(scope="module")
def vocab_words(lower):
    cjk = [t for t in lower._token_dict if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    latin = [t for t in lower._token_dict if t.isascii() and t.isalpha() and t.islower() and len(t) > 1]
    return cjk, latin


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_decode_inverts_encode_for_vocabulary_text(lower, vocab_words, data):
    cjk, latin = vocab_words
    words = data.draw(st.lists(st.one_of(st.sampled_from(cjk), st.sampled_from(latin)), max_size=20))
    text = " ".join(words)
    # Expected: bert4keras puts a space only between two Latin words.
    expected = "".join(
        (" " if i and words[i - 1].isascii() and w.isascii() else "") + w for i, w in enumerate(words)
    )
    assert lower.decode(lower.encode(text)[0]) == expected


# ---- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 123, b"bytes", 1.5, {"a": 1}])
def test_non_strings_are_rejected(lower, bad):
    with pytest.raises(ValueError, match="first_text must be a str"):
        lower.encode(bad)
    with pytest.raises(ValueError, match="text must be a str"):
        lower.tokenize(bad)


def test_edge_strings(lower):
    cls, sep, unk = lower._token_start_id, lower._token_end_id, lower._token_unk_id
    for empty in ["", "   ", "\t\n\u3000", "\x00\x01\u200b\ufeff"]:
        assert lower.encode(empty) == ([cls, sep], [0, 0])
    assert lower.encode("a\ud800b")[0] == [cls, unk, sep]  # lone surrogate: an unknown word
    assert lower.encode("x" * 201)[0] == [cls, unk, sep]  # longer than word_maxlen
    big = "中文 text，" * 120_000  # ~1 MB
    ids, _, offsets = lower.encode_batch([big], maxlen=512, return_offsets=True)
    assert ids.shape == (1, 512)
    check_offsets(lower, big, ids[0], offsets[0], True)
    with pytest.raises(ValueError, match="maxlen=1 is smaller than the 2 special tokens"):
        lower.encode("中文", maxlen=1)
    with pytest.raises(ValueError, match="smaller than the 4 special tokens"):
        lower.encode("中文", "中文", maxlen=2)
    with pytest.raises(ValueError, match="pattern"):
        lower.encode("中文", "中文", pattern="SE")
    with pytest.raises(ValueError, match="truncate_from"):
        lower.encode("中文", maxlen=3, truncate_from="middle")
    with pytest.raises(ValueError, match="list of texts"):
        lower.encode_batch("中文")
    with pytest.raises(ValueError, match="not a file"):
        Tokenizer("/nonexistent/vocab.txt")
    with pytest.raises(ValueError, match="no '\\[UNK\\]' token"):
        Tokenizer({"a": 0})


@pytest.mark.parametrize("maxlen,side", [(None, "right"), (32, "right"), (32, "left"), (2, "right")])
def test_batch_path_equals_encode(lower, texts, maxlen, side):
    sample = texts[::40] + ["", "  ", "Unknown wørds ☃ and 中文", "x" * 300, "holds \uffff the separator"]
    ids, segments = lower.encode_batch(sample, maxlen=maxlen, truncate_from=side)
    for text, row in zip(sample, ids.tolist()):
        expected = lower.encode(text, maxlen=maxlen, truncate_from=side)[0]
        assert row == expected + [lower._token_pad_id] * (len(row) - len(expected))
    assert not segments.any() and ids.dtype == np.int32
