import math
import random

import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.text.lexicon import Lexicon, LexiconEntry
from kerasformers.text.templates import SLOT, find_templates


def test_counts_fillers_and_pmi_hand_computed():
    # Words: 把 X 放在 (X in 书/笔/杯子), plus unrelated words.
    lexicon = {"把": 1, "书": 1, "笔": 1, "杯子": 1, "放在": 1, "我": 1, "看": 1}
    lines = ["我把书放在", "我把笔放在", "我把杯子放在", "我看书", "我看书", "我看书"]
    templates = find_templates(lines, lexicon, min_count=3, min_fillers=3, min_pmi=0.0, max_length=3)
    by_pattern = {t.pattern: t for t in templates}
    template = by_pattern[("把", SLOT, "放在")]
    # N = 3 * 4 + 3 * 3 = 21 words; count(把) = count(放在) = 3; the template occurs 3 times.
    assert template.count == 3 and template.fillers == 3
    assert template.pmi == pytest.approx(math.log(3 * 21 / (3 * 3)))
    assert set(template.examples) == {("书",), ("笔",), ("杯子",)}
    assert template.saving == pytest.approx(3 * template.pmi)
    # 我 _ 书 (3 times) has only one kind of filler: a phrase, not a template.
    assert ("我", SLOT, "书") not in by_pattern
    loose = find_templates(lines, lexicon, min_count=3, min_fillers=1, min_pmi=0.0)
    assert ("我", SLOT, "书") in {t.pattern for t in loose}
    assert str(template) == "把 _ 放在"


def test_planted_templates_rank_first_and_punctuation_is_optional():
    rng = random.Random(0)
    nouns = [chr(0x4E00 + i) + chr(0x4F00 + i) for i in range(40)]
    noise = [chr(0x5100 + i) for i in range(30)]
    lines = []
    for _ in range(500):
        before = "".join(rng.choice(noise) for _ in range(3))
        after = "".join(rng.choice(noise) for _ in range(3))
        lines.append(
            f"{before}《{rng.choice(nouns)}》{after}"
            if rng.random() < 0.5
            else f"{before}位于{rng.choice(nouns)}以北{after}"
        )
    lexicon = Lexicon({w: LexiconEntry(5, 0.0) for w in nouns + ["位于", "以北"]})
    templates = find_templates(lines, lexicon, min_count=20, min_fillers=10, min_pmi=1.0)
    top = {t.pattern for t in templates[:2]}
    assert top == {("《", SLOT, "》"), ("位于", SLOT, "以北")}
    words_only = find_templates(lines, lexicon, min_count=20, min_fillers=10, min_pmi=1.0, words_only=True)
    assert words_only[0].pattern == ("位于", SLOT, "以北")
    assert all("《" not in t.pattern for t in words_only)


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_length"):
        find_templates(["甲乙"], {"甲": 1}, min_length=2)
    with pytest.raises(ValueError, match="no words"):
        find_templates(["   "], {"甲": 1})


def test_cli_templates(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "\n".join(["我把书放在桌上", "我把笔放在桌上", "我把杯子放在桌上"] * 10) + "\n", encoding="utf-8"
    )
    lexicon = tmp_path / "lexicon.tsv"
    Lexicon({w: LexiconEntry(10, 0.0) for w in ["我", "把", "书", "笔", "杯子", "放在", "桌上"]}).save(
        lexicon
    )
    out = tmp_path / "templates.tsv"
    result = CliRunner().invoke(
        app,
        [
            "words",
            "templates",
            str(corpus),
            "--lexicon",
            str(lexicon),
            "--output",
            str(out),
            "--min-count",
            "10",
            "--min-fillers",
            "3",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert ["把 _ 放在", "30"] in [r[:2] for r in rows]
    assert all(len(r) == 5 for r in rows)
