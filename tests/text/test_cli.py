import random

from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.text.lexicon import Lexicon

runner = CliRunner()


def _corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("今天天气很好，我们去公园散步。\n\n天气预报说明天天气也很好。\n" * 30, encoding="utf-8")
    return path


def _random_corpus(tmp_path):
    # Planted words among random characters (see tests/text/test_discovery.py).
    rng = random.Random(0)
    words = ["北京大学", "计算机", "人工智能", "的", "在", "和", "研究", "学生"]
    filler = [chr(0x5000 + i) for i in range(60)]
    lines = [
        "".join(rng.choice(words) if rng.random() < 0.25 else rng.choice(filler) for _ in range(12)) + "。"
        for _ in range(600)
    ]
    path = tmp_path / "random.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_count_writes_sorted_tsv(tmp_path):
    corpus = _corpus(tmp_path)
    out = tmp_path / "counts.tsv"
    result = runner.invoke(
        app,
        [
            "words",
            "count",
            str(corpus),
            "--tokenizer",
            "ngram",
            "-n",
            "2",
            "--min-count",
            "60",
            "--output",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["天", "150"]  # 天 occurs 2 + 3 times per repetition
    assert ["天气", "90"] in rows and all(int(c) >= 60 for _, c in rows)


def test_discover_then_segment(tmp_path):
    corpus, lines = _random_corpus(tmp_path)
    lexicon_path = tmp_path / "lexicon.tsv"
    result = runner.invoke(
        app,
        [
            "words",
            "discover",
            str(corpus),
            "--output",
            str(lexicon_path),
            "--min-count",
            "8",
            "--min-proba",
            "5,10,20",
            "--workers",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    lexicon = Lexicon.load(lexicon_path)
    assert {w for w in lexicon if len(w) > 1} == {"北京大学", "计算机", "人工智能", "研究", "学生"}
    out = tmp_path / "cut.txt"
    result = runner.invoke(
        app, ["words", "segment", str(corpus), "--lexicon", str(lexicon_path), "--output", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    cut = [line.split(" ") for line in out.read_text(encoding="utf-8").splitlines()]
    assert ["".join(words) for words in cut] == lines
    assert sum(words.count("计算机") for words in cut) == sum(line.count("计算机") for line in lines)


def test_pmi_lexicon(tmp_path):
    corpus = _corpus(tmp_path)
    out = tmp_path / "pmi.tsv"
    result = runner.invoke(
        app, ["words", "pmi", str(corpus), "--output", str(out), "--min-count", "20", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert any(len(w) > 1 for w in Lexicon.load(out))


def test_bad_input_gives_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("好\n".encode() + "坏".encode("gbk") + b"\n")
    result = runner.invoke(app, ["words", "count", str(bad), "-q"])
    assert result.exit_code == 1
    assert f"{bad}: not valid utf-8 at byte offset 4" in result.output
    result = runner.invoke(app, ["words", "count", str(bad), "--skip-bad"])
    assert result.exit_code == 0 and "好\t1" in result.output and "1 undecodable lines" in result.output
    result = runner.invoke(
        app, ["words", "discover", str(bad), "--output", str(tmp_path / "x.tsv"), "--min-proba", "1,2", "-q"]
    )
    assert result.exit_code == 1 and "--min-proba needs 3 values" in result.output
    result = runner.invoke(app, ["words", "segment", str(bad), "--lexicon", str(tmp_path / "none.tsv")])
    assert result.exit_code == 1 and "none.tsv" in result.output
