import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.text.lexicon import Lexicon, LexiconEntry
from kerasformers.text.segmenter import Segmenter

ALPHABET = "甲乙丙丁"
lexicons = st.dictionaries(
    st.text(alphabet=ALPHABET, min_size=1, max_size=4), st.integers(1, 50), max_size=15
)


def segmentation_cost(segmenter, words):
    return sum(segmenter.cost(w) for w in words)


def exhaustive_best(segmenter, text):
    best = math.inf
    for cuts in itertools.product([False, True], repeat=len(text) - 1):
        words, start = [], 0
        for i, cut in enumerate(cuts, 1):
            if cut:
                words.append(text[start:i])
                start = i
        words.append(text[start:])
        best = min(best, segmentation_cost(segmenter, words))
    return best


@settings(max_examples=50, deadline=None)
@given(lexicons, st.text(alphabet=ALPHABET, min_size=1, max_size=9))
def test_dynamic_programming_equals_exhaustive_search(lexicon, text):
    segmenter = Segmenter(lexicon)
    words = segmenter.cut_piece(text)
    assert "".join(words) == text
    assert segmentation_cost(segmenter, words) == pytest.approx(exhaustive_best(segmenter, text))


def test_costs_are_negative_log_probabilities():
    segmenter = Segmenter({"北京": 6, "北": 1, "京": 3}, unknown_count=0.5)
    assert segmenter.cost("北京") == pytest.approx(-math.log(6 / 10))
    assert segmenter.cost("京") == pytest.approx(-math.log(3 / 10))
    assert segmenter.cost("上") == pytest.approx(-math.log(0.5 / 10))
    assert segmenter.cost("上海") == math.inf


def test_cut_handles_punctuation_spaces_and_unknown_text():
    segmenter = Segmenter({"今天": 10, "天气": 8, "很好": 5, "天": 1})
    assert segmenter.cut("今天天气很好！！ OK——123") == [
        "今天",
        "天气",
        "很好",
        "！！",
        "O",
        "K",
        "——",
        "1",
        "2",
        "3",
    ]
    assert segmenter.cut("") == []
    assert Segmenter({}).cut("天地") == ["天", "地"]


def test_bad_lexicon_entries_are_named():
    with pytest.raises(ValueError, match="'北京'"):
        Segmenter({"北京": 0})
    with pytest.raises(ValueError, match="unknown_count"):
        Segmenter({"北京": 1}, unknown_count=0)


def test_lexicon_tsv_round_trip_and_segmenter_from_tsv(tmp_path):
    lexicon = Lexicon({"北京": LexiconEntry(6, 12.5), "京": LexiconEntry(3, 0.0), "北": LexiconEntry(1, 0.0)})
    path = tmp_path / "lexicon.tsv"
    lexicon.save(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "北京\t6\t12.5"
    assert Lexicon.load(path) == lexicon
    assert Segmenter.from_tsv(path).cut("北京北京") == ["北京", "北京"]


def test_bad_lexicon_tsv_names_file_and_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("北京\t6\t1.0\n上海 7\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:2: expected"):
        Lexicon.load(path)
    path.write_text("北京\tmany\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:1: count/score are not numbers"):
        Lexicon.load(path)
