from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.data import text_segmentate


def test_text_segmentate_known_answer():
    text = "今天天气很好。我们去公园玩吧！好的，走吧。"
    assert text_segmentate(text, 8, "。！，") == ["今天天气很好。", "我们去公园玩吧！", "好的，走吧。"]
    assert text_segmentate("短句。", 10, "。") == ["短句。"]


def test_text_segmentate_falls_back_to_weaker_separators():
    text = "aaaa,bbbb,cccc.dd"
    pieces = text_segmentate(text, 6, ".,")
    assert pieces == ["aaaa,", "bbbb,", "cccc.", "dd"]


def test_text_segmentate_strips():
    assert text_segmentate("xx;yy;", 3, ";", strips=";") == ["xx", "yy"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet="abcdef", min_size=1, max_size=5), min_size=1, max_size=12), st.integers(6, 20)
)
def test_text_segmentate_lossless_and_bounded(words, maxlen):
    # Runs between separators are <= 5 chars, so every piece must fit maxlen.
    text = "。".join(words)
    pieces = text_segmentate(text, maxlen, "。")
    assert "".join(pieces) == text
    assert all(0 < len(p) <= maxlen for p in pieces)


def test_small_string_helpers():
    from kerasformers.data import convert_to_unicode, is_string, string_matching, strQ2B

    assert strQ2B("ＡＢＣ１２３，！\u3000ｘ") == "ABC123,! x"
    assert strQ2B("中文不变") == "中文不变"
    assert string_matching("今天天气很好", ["天气", "下雨"]) and not string_matching("abc", ["x"])
    assert convert_to_unicode("你好".encode()) == "你好" and convert_to_unicode("x") == "x"
    assert is_string("a") and not is_string(b"a")


def test_snippets_compat_names():
    import numpy as np

    from kerasformers import snippets

    for name in [
        "sequence_padding",
        "truncate_sequences",
        "text_segmentate",
        "to_array",
        "DataGenerator",
        "ViterbiDecoder",
        "parallel_apply",
        "parallel_apply_generator",
        "open",
        "softmax",
        "AutoRegressiveDecoder",
        "is_string",
        "strQ2B",
    ]:
        assert hasattr(snippets, name), name
    p = snippets.softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    np.testing.assert_allclose(p[1], [0, 0, 1])


def _brute_lcsubstring(a, b):
    return max([0] + [j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1) if a[i:j] in b])


def _brute_lcsubsequence(a, b):
    from itertools import combinations

    for k in range(min(len(a), len(b)), 0, -1):
        subs = {tuple(a[i] for i in c) for c in combinations(range(len(a)), k)}
        if any(tuple(b[i] for i in c) in subs for c in combinations(range(len(b)), k)):
            return k
    return 0


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abc", max_size=7), st.text(alphabet="abc", max_size=7))
def test_longest_common_substring_and_subsequence_brute_force(a, b):
    from kerasformers.data import longest_common_subsequence, longest_common_substring

    length, (i0, i1, j0, j1) = longest_common_substring(a, b)
    assert length == _brute_lcsubstring(a, b)
    assert a[i0:i1] == b[j0:j1] and i1 - i0 == length
    length, mapping = longest_common_subsequence(a, b)
    assert length == _brute_lcsubsequence(a, b) == len(mapping)
    assert all(a[i] == b[j] for i, j in mapping)
    assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(mapping, mapping[1:]))


def test_longest_common_known_answers():
    from kerasformers.data import longest_common_subsequence, longest_common_substring

    assert longest_common_substring("我爱北京天安门", "北京天气") == (3, (2, 5, 0, 3))
    assert longest_common_subsequence("abcde", "ace") == (3, [(0, 0), (2, 1), (4, 2)])
