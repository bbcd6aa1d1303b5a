import collections
import math
import random

import pytest

from kerasformers.text.min_entropy import build_lexicon_by_pmi, count_units_and_pairs, merge_by_pmi, pmi
from kerasformers.text.segmenter import Segmenter


def test_pmi_hand_computed():
    assert pmi(4, 8, 10, 100) == pytest.approx(math.log(100 * 4 / 80))


def test_units_pairs_and_merges_hand_computed():
    segmenter = Segmenter({"甲": 1, "乙": 1, "丙": 1})
    units, pairs = count_units_and_pairs(["甲乙甲乙，丙", "甲乙丙"], segmenter)
    assert units == collections.Counter({"甲": 3, "乙": 3, "丙": 2})
    assert pairs == collections.Counter({("甲", "乙"): 3, ("乙", "甲"): 1, ("乙", "丙"): 1})
    # N = 8. PMI(甲,乙) = log(8*3/9) = 0.98; PMI(乙,甲) = log(8/9) < 0; PMI(乙,丙) = log(8/6) = 0.29
    merged = merge_by_pmi(units, pairs, min_count=1, min_pmi=0.25)
    assert merged == {
        "甲乙": (3, pytest.approx(math.log(8 / 3))),
        "乙丙": (1, pytest.approx(math.log(8 / 6))),
    }
    assert merge_by_pmi(units, pairs, min_count=2, min_pmi=0.25) == {
        "甲乙": (3, pytest.approx(math.log(8 / 3)))
    }


def test_build_lexicon_finds_planted_words():
    rng = random.Random(1)
    words = ["葡萄", "巧克力", "冰淇淋", "的", "了"]
    chars = "一二三四五六七八九十"
    lines = [
        "".join(rng.choice(words) if rng.random() < 0.5 else rng.choice(chars) for _ in range(10))
        for _ in range(400)
    ]
    lexicon = build_lexicon_by_pmi(lines, min_count=10, min_pmi=1.0, iterations=3)
    for word in ["葡萄", "巧克力", "冰淇淋"]:
        assert word in lexicon and lexicon[word].score >= 1.0, word
    assert not any(len(w) > 1 and set(w) <= set(chars) for w in lexicon)
    cut = Segmenter(lexicon).cut("葡萄巧克力冰淇淋")
    assert cut == ["葡萄", "巧克力", "冰淇淋"]
    with pytest.raises(ValueError, match="no word characters"):
        build_lexicon_by_pmi(["，。"], min_count=1)
