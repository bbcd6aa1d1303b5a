import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.text.corpus import batch_lines, content_pieces
from kerasformers.text.counting import (
    CountTable,
    count_batch,
    count_frequent_tokens,
    count_tokens,
    get_tokenizer,
)

# Small alphabet so n-grams repeat; "，" splits pieces.
texts = st.lists(st.text(alphabet="甲乙丙丁，", min_size=0, max_size=30), min_size=0, max_size=12)


def brute_force_ngrams(lines, n):
    counts = collections.Counter()
    for line in lines:
        for piece in content_pieces(line):
            for i in range(len(piece)):
                for j in range(i + 1, min(i + n, len(piece)) + 1):
                    counts[piece[i:j]] += 1
    return counts


@settings(max_examples=50, deadline=None)
@given(texts, st.integers(1, 4))
def test_ngram_counts_equal_brute_force(lines, n):
    table = count_tokens(lines, "ngram", n, batch_chars=7)
    assert table.to_dict() == dict(brute_force_ngrams(lines, n))


@settings(max_examples=30, deadline=None)
@given(texts)
def test_char_counts_equal_brute_force(lines):
    expected = collections.Counter(ch for line in lines for ch in line if ch != "，")
    assert count_tokens(lines, "char", batch_chars=5).to_dict() == dict(expected)


@settings(max_examples=20, deadline=None)
@given(texts, st.integers(2, 6))
def test_spilling_to_disk_gives_exact_counts(lines, max_entries):
    with count_tokens(lines, "ngram", 3, batch_chars=6, max_entries=max_entries, overflow="spill") as table:
        assert table.to_dict() == dict(brute_force_ngrams(lines, 3))
        largest_batch = max((len(brute_force_ngrams(b, 3)) for b in batch_lines(lines, 6)), default=0)
        assert table.peak_entries <= max_entries + largest_batch
        assert dict(table.items(min_count=3)) == {
            k: v for k, v in brute_force_ngrams(lines, 3).items() if v >= 3
        }


def test_parallel_counting_equals_serial():
    lines = ["今天天气很好，我们去公园散步。", "天气预报说明天天气也很好。"] * 200
    serial = count_tokens(lines, "ngram", 3, batch_chars=300).to_dict()
    parallel = count_tokens(lines, "ngram", 3, workers=2, batch_chars=300).to_dict()
    assert parallel == serial == dict(brute_force_ngrams(lines, 3))


@settings(max_examples=15, deadline=None)
@given(texts, st.integers(1, 3))
def test_map_reduce_counting_equals_brute_force(lines, min_count):
    expected = {k: v for k, v in brute_force_ngrams(lines, 3).items() if v >= min_count}
    assert count_frequent_tokens(lines, "ngram", 3, min_count, workers=1, batch_chars=8, shards=3) == expected


def test_map_reduce_counting_in_parallel_equals_serial(tmp_path):
    lines = ["今天天气很好，我们去公园散步。", "天气预报说明天天气也很好。"] * 200
    counts = count_frequent_tokens(lines, "ngram", 4, 2, workers=2, batch_chars=300, spill_dir=tmp_path)
    assert counts == {k: v for k, v in brute_force_ngrams(lines, 4).items() if v >= 2}
    assert list(tmp_path.iterdir()) == []  # shard files cleaned up


def test_pruning_bounds_memory_and_keeps_frequent_counts_exact():
    # 1 frequent token and many singletons: the table never exceeds its budget, and
    # a token that is always present survives every prune with its exact count.
    lines = [f"高频{chr(0x4E00 + i)}{chr(0x5E00 + i)}" for i in range(3000)]
    table = count_tokens(lines, "ngram", 2, batch_chars=40, max_entries=200, overflow="prune")
    assert len(table.counts) <= 200
    assert table.counts["高频"] == 3000 and table.counts["高"] == 3000
    assert table.prune_threshold >= 1


def test_tokenizer_selection_and_errors():
    assert list(get_tokenizer("char")("天，地")) == ["天", "地"]
    assert sorted(get_tokenizer("ngram", 2)("天地")) == ["地", "天", "天地"]
    assert get_tokenizer(str.split)("a b") == ["a", "b"]
    with pytest.raises(ValueError, match="tokenizer"):
        get_tokenizer("words")
    with pytest.raises(ValueError, match="overflow"):
        CountTable(overflow="drop")


def test_jieba_tokenizer_counts_words():
    pytest.importorskip("jieba")
    counts = count_batch(["我爱北京天安门。", "北京欢迎你"], get_tokenizer("jieba"))
    assert counts["北京"] == 2 and "。" not in counts
