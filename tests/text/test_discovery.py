import random

import pytest

from kerasformers.text.discovery import (
    DiscoveryConfig,
    _automaton,
    absolute_discounts,
    auto_min_count,
    cohesion,
    discover_words,
    presegment,
    select_ngrams,
)
from kerasformers.text.evaluation import read_peoples_daily, score_segmentation
from kerasformers.text.segmenter import Segmenter


def test_cohesion_hand_computed():
    counts = {"a": 10, "b": 20, "c": 5, "ab": 8, "bc": 4, "abc": 3}
    # splits a|bc: 100*3/(10*4) = 7.5 ; ab|c: 100*3/(8*5) = 7.5 -> min 7.5
    assert cohesion("abc", counts, 100) == pytest.approx(7.5)
    assert cohesion("ab", counts, 100) == pytest.approx(100 * 8 / (10 * 20))
    counts["bc"] = 2  # a|bc -> 15, ab|c -> 7.5
    assert cohesion("abc", counts, 100) == pytest.approx(7.5)
    counts["ab"] = 1  # a|bc -> 15, ab|c -> 60
    assert cohesion("abc", counts, 100) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="at least 2"):
        cohesion("a", counts, 100)


def test_absolute_discount_hand_computed():
    # bigrams: 6 seen once, 2 seen twice -> 6 / (6 + 4) = 0.6; trigrams: none twice -> 1.0
    discounts = absolute_discounts({(2, 1): 6, (2, 2): 2, (3, 1): 4, (1, 1): 3})
    assert discounts[2] == pytest.approx(0.6) and discounts[3] == 1.0
    counts = {"a": 10, "b": 20, "ab": 8}
    assert cohesion("ab", counts, 100, discount=0.6) == pytest.approx(100 * 7.4 / 200)
    kept = select_ngrams(counts, 100, min_count=2, min_proba={2: 3.9}, discounts={2: 0.6})
    assert kept == {}  # 3.7 < 3.9 <= 4.0, the undiscounted cohesion
    assert select_ngrams(counts, 100, min_count=2, min_proba={2: 3.9}) == {"ab": pytest.approx(4.0)}


def test_select_ngrams_applies_count_and_per_length_thresholds():
    counts = {"a": 10, "b": 20, "c": 5, "ab": 8, "bc": 1, "abc": 3}
    kept = select_ngrams(counts, 100, min_count=2, min_proba={2: 4, 3: 7})
    assert kept == {"ab": pytest.approx(4.0), "abc": pytest.approx(7.5)}  # bc: count 1 < 2
    assert select_ngrams(counts, 100, min_count=2, min_proba={2: 4.5, 3: 8}) == {}


def test_presegment_links_characters_covered_by_a_kept_ngram():
    automaton = _automaton(["北京", "天安门", "门前"])
    assert presegment("我爱北京天安门前面", automaton) == ["我", "爱", "北京", "天安门前", "面"]
    assert presegment("", automaton) == []
    assert presegment("天", _automaton([])) == ["天"]


def test_discover_planted_words_in_synthetic_corpus():
    rng = random.Random(0)
    words = ["北京大学", "计算机", "人工智能", "的", "在", "和", "研究", "学生"]
    filler = [chr(0x5000 + i) for i in range(60)]  # random single characters
    lines = []
    for _ in range(600):
        parts = [rng.choice(words) if rng.random() < 0.25 else rng.choice(filler) for _ in range(12)]
        lines.append("".join(parts))
    # Random neighbours of planted words reach min_count but not the cohesion bar.
    lexicon = discover_words(lines, min_count=8, min_proba={2: 5, 3: 10, 4: 20})
    multi = {w for w in lexicon if len(w) > 1}
    assert multi == {"北京大学", "计算机", "人工智能", "研究", "学生"}
    assert all(lexicon[w].score >= 5 for w in multi)
    assert lexicon["的"].score == 0.0


def test_discovery_with_spilled_counts_matches_in_memory(tmp_path):
    lines = ["今天天气很好我们去公园散步", "天气预报说明天天气也很好"] * 40
    in_memory = discover_words(lines, min_count=5, cohesion_base=5)
    spilled = discover_words(lines, min_count=5, cohesion_base=5, max_entries=30, overflow="spill")
    assert spilled == in_memory and "天气" in in_memory


def test_bad_configuration_and_empty_corpus(tmp_path):
    with pytest.raises(ValueError, match=r"min_proba has no threshold for n-gram length\(s\) \[4\]"):
        DiscoveryConfig(min_proba={2: 5, 3: 25})
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no word characters"):
        discover_words(empty, min_count=1)


def test_defaults_scale_with_the_corpus():
    assert DiscoveryConfig().thresholds == {2: 6.0, 3: 36.0, 4: 216.0}
    assert DiscoveryConfig(max_n=3, cohesion_base=5).thresholds == {2: 5, 3: 25}
    assert [auto_min_count(n) for n in (10_000, 1_700_000, 2_000_000, 100_000_000)] == [2, 3, 3, 20]
    assert DiscoveryConfig().resolved(2_000_000).min_count == 3
    assert DiscoveryConfig(min_count=7).resolved(2_000_000).min_count == 7
    with pytest.raises(ValueError, match="cohesion_base"):
        DiscoveryConfig(cohesion_base=0)


def test_peoples_daily_subset_f1_with_defaults():
    # Discovery with the DEFAULT settings (chosen on other corpora, never on this gold
    # segmentation) from the raw text of the first 2000 paragraphs (183k characters),
    # then segmentation with the discovered lexicon. The whole corpus scores 0.741
    # (bench/word_count.py discover); this smaller sample less.
    gold = read_peoples_daily(limit=2000)
    raw = ["".join(words) for words in gold]
    segmenter = Segmenter(discover_words(raw))
    scores = score_segmentation(gold, [segmenter.cut(text) for text in raw])
    assert scores.f1 >= 0.70
