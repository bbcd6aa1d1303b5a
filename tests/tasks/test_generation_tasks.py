"""title-generation and couplet: readers on hand-written fixtures in the original formats, scores
with known answers, learning on tiny models, decoding determinism, couplet length, save/load, CLI."""

import json
import pathlib
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.tasks import TASKS, DataFormatError, load
from kerasformers.tasks.couplet import CoupletTask, read_couplets, write_couplets
from kerasformers.tasks.title import (
    TitleGenerationTask,
    peoples_daily_titles,
    read_titles,
    title_scores,
    write_title_json_lines,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


# ---- readers -----------------------------------------------------------------------------


def test_csl_json_lines_and_tsv_agree():
    records = read_titles(FIXTURES / "csl" / "train.json")
    assert len(records) == 12
    assert records[0]["title"] == "基于深度学习的中文短文本分类方法研究"
    assert records[0]["text"].startswith("针对中文短文本特征稀疏的问题")
    assert records[0]["keyword"] == ["短文本分类", "卷积神经网络", "字向量"]  # other CSL fields are kept
    tsv = read_titles(FIXTURES / "csl" / "dev.tsv")
    assert [(r["title"], r["text"]) for r in tsv] == [(r["title"], r["text"]) for r in records[:6]]


def test_lcsts_part_file_and_json_lines_agree():
    part = read_titles(FIXTURES / "lcsts" / "PART_III.txt")
    jsonl = read_titles(FIXTURES / "lcsts" / "train.jsonl")
    assert len(part) == 6 and [r["human_label"] for r in part] == [5, 4, 5, 3, 4, 5]
    assert part[0] == {"text": jsonl[0]["text"], "title": "央行宣布下调存款准备金率", "human_label": 5}
    assert [(r["title"], r["text"]) for r in part] == [(r["title"], r["text"]) for r in jsonl]


def test_title_round_trip(tmp_path):
    records = read_titles(FIXTURES / "lcsts" / "PART_III.txt")
    write_title_json_lines(records, tmp_path / "out.json")
    again = read_titles(tmp_path / "out.json")
    assert [(r["title"], r["text"]) for r in again] == [(r["title"], r["text"]) for r in records]


def test_title_readers_name_the_bad_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("<doc id=0>\n<summary>标题</summary>\n</doc>\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.txt, line 1: .*short_text"):
        read_titles(bad)
    bad.write_text("只有标题\n标题\t正文\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 1: expected title<TAB>abstract"):
        read_titles(bad)
    records = read_titles(bad, skip_bad=True)
    assert records == [{"text": "正文", "title": "标题"}] and records.skipped == 1


def test_couplet_reader_finds_both_files(tmp_path):
    folder = FIXTURES / "couplet" / "train"
    records = read_couplets(folder)
    assert len(records) == 20 and records[0] == {"text": "晚风摇树树还挺", "target": "晨露润花花更红"}
    assert read_couplets(folder / "in.txt") == records == read_couplets(folder / "out.txt")
    write_couplets(records, tmp_path)
    assert (tmp_path / "in.txt").read_text(encoding="utf-8") == (folder / "in.txt").read_text(
        encoding="utf-8"
    )
    assert read_couplets(tmp_path) == records


def test_couplet_reader_errors(tmp_path):
    (tmp_path / "in.txt").write_text("海 阔\n天 高 任\n", encoding="utf-8")
    (tmp_path / "out.txt").write_text("天 高\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="2 lines but .*has 1"):
        read_couplets(tmp_path)
    (tmp_path / "out.txt").write_text("天 高\n海 阔\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"in.txt, line 2: the lines differ in length \(3"):
        read_couplets(tmp_path)
    with pytest.raises(DataFormatError, match="need couplet-clean's in.txt and out.txt"):
        read_couplets(tmp_path / "missing")


# ---- scores and data ---------------------------------------------------------------------


def test_title_scores_known_answers():
    assert title_scores(["我爱北京"], ["我爱北京"]) == pytest.approx(
        {"rouge-1": 1.0, "rouge-2": 1.0, "rouge-l": 1.0, "bleu": 1.0}
    )
    # 4 of the 7 reference characters: R = 4/7, P = 1, F = 8/11; bigrams 3/6 → F = 2/3
    scores = title_scores(["我爱北京", ""], ["我爱北京天安门", "标题"])
    assert scores["rouge-1"] == pytest.approx(8 / 11 / 2, abs=1e-6)
    assert scores["rouge-2"] == pytest.approx(2 / 3 / 2, abs=1e-6)
    assert 0 < scores["bleu"] < 1


def test_peoples_daily_pseudo_titles_are_first_sentences():
    records = peoples_daily_titles(50)
    assert len(records) == 50
    for record in records:
        assert "。" not in record["title"] and 20 <= len(record["text"]) <= 200


# ---- learning, decoding, persistence -----------------------------------------------------

TOPICS = {"雨": "阴雨", "晴": "晴朗", "风": "大风", "雪": "飘雪"}


def copy_records(count, seed=0):
    """A learnable title task: filler characters around one topic character; the title names the topic."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        topic = rng.choice(sorted(TOPICS))
        filler = [rng.choice("天地人山水云花月") for _ in range(rng.randint(5, 9))]
        filler.insert(rng.randint(0, len(filler)), topic)
        records.append({"text": "".join(filler), "title": TOPICS[topic]})
    return records


@pytest.fixture(scope="module")
def title_task():
    task = TitleGenerationTask(
        checkpoint="scratch", encoder=TINY, maxlen=16, max_target_length=3, decoding="greedy"
    )
    task.fit(copy_records(256), epochs=8, batch_size=32, learning_rate=5e-3, verbose=0)
    return task


def test_title_unilm_learns(title_task):
    losses = [entry["loss"] for entry in title_task.history]
    assert losses[-1] < 0.5 * losses[0]
    test = copy_records(16, seed=1)
    assert title_task.evaluate(test)["rouge-l"] > 0.7  # one constant title scores ≈ 0.25


@pytest.mark.slow
def test_title_beam_and_sampling_are_deterministic(title_task):
    texts = [r["text"] for r in copy_records(4, seed=2)]
    title_task.options.update(decoding="beam", beam_size=3)
    beams = title_task.predict(texts, batch_size=4)
    assert beams == title_task.predict(texts, batch_size=4)
    title_task.options.update(decoding="sample", seed=7, temperature=3.0)
    samples = title_task.predict(texts, batch_size=4)
    assert samples == title_task.predict(texts, batch_size=4)
    title_task.options.update(seed=8)
    assert samples != title_task.predict(texts, batch_size=4)  # hot sampling, another seed: other titles
    title_task.options.update(decoding="greedy", temperature=1.0, seed=0)
    assert all(isinstance(answer["title"], str) for answer in beams + samples)


def test_title_save_load_predicts_the_same(title_task, tmp_path):
    texts = [r["text"] for r in copy_records(4, seed=3)]
    expected = title_task.predict(texts)
    title_task.save(tmp_path / "title")
    again = load(tmp_path / "title")
    assert isinstance(again, TitleGenerationTask) and again.predict(texts) == expected


@pytest.mark.slow
def test_title_t5_variant_trains_and_decodes(tmp_path):
    task = TitleGenerationTask(checkpoint="scratch", encoder=TINY, model="t5", maxlen=16, max_target_length=3)
    task.fit(copy_records(64), epochs=2, batch_size=32, learning_rate=5e-3, verbose=0)
    assert task.history[-1]["loss"] < task.history[0]["loss"]
    answers = task.predict(["天地人山水"])
    task.save(tmp_path / "t5")
    again = load(tmp_path / "t5")
    assert again.spec.model == "t5" and again.predict(["天地人山水"]) == answers


def test_couplet_cnn_learns_and_keeps_length(tmp_path):
    train = read_couplets(FIXTURES / "couplet" / "train")
    task = CoupletTask(checkpoint="scratch", encoder={"hidden_size": 64}, cnn_layers=3)
    task.fit(train, epochs=25, batch_size=20, learning_rate=1e-2, verbose=0)
    assert task.evaluate(train)["accuracy"] > 0.8  # memorises its 20 couplets
    inputs = ["海阔凭鱼跃", "一", "春 回 大 地", "晚风摇树树还挺" * 3, "ＡＢ未见过的字"]
    answers = task.predict(inputs)
    for text, answer in zip(inputs, answers):
        assert len(answer["target"]) == len("".join(text.split()))
    task.save(tmp_path / "couplet")
    assert load(tmp_path / "couplet").predict(inputs) == answers


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["bert", "unilm"])
def test_couplet_transformer_variants_keep_length(architecture):
    pairs = read_couplets(FIXTURES / "couplet" / "train")
    task = CoupletTask(
        checkpoint="scratch", encoder=TINY, architecture=architecture, maxlen=12, max_target_length=3
    )
    task.fit(pairs[:8], epochs=1, batch_size=8, verbose=0)
    inputs = ["海阔凭鱼跃", "一句相思吟岁月"]  # the second is longer than one BERT window (10 characters fit)
    for text, answer in zip(inputs, task.predict(inputs)):
        assert len(answer["target"]) == len(text)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="decoding must be"):
        TitleGenerationTask(decoding="nucleus")
    with pytest.raises(ValueError, match="architecture must be one of cnn, bert, unilm"):
        CoupletTask(architecture="rnn")
    assert {"title-generation", "couplet"} <= set(TASKS)


# ---- CLI ---------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_couplet_on_couplet_clean_folders(tmp_path):
    output = tmp_path / "couplet"
    result = run(
        "train",
        "couplet",
        "--train",
        FIXTURES / "couplet" / "train",
        "--valid",
        FIXTURES / "couplet" / "test" / "in.txt",
        "--output",
        output,
        "--checkpoint",
        "scratch",
        "--epochs",
        1,
        "--batch-size",
        10,
        "--option",
        "cnn_layers=2",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    result = run("evaluate", output, "--data", FIXTURES / "couplet" / "test")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output.strip().splitlines()[-1])) == {"accuracy", "exact_match", "bleu"}
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("海 阔 凭 鱼 跃\n", encoding="utf-8")
    result = run("predict", output, "--input", inputs, "--quiet")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output.strip())["target"]) == 5


@pytest.mark.slow
def test_cli_title_generation_on_lcsts(tmp_path):
    output = tmp_path / "title"
    result = run(
        "train",
        "title-generation",
        "--train",
        FIXTURES / "lcsts" / "PART_III.txt",
        "--output",
        output,
        "--checkpoint",
        "scratch",
        "--epochs",
        1,
        "--batch-size",
        6,
        "--maxlen",
        48,
        "--option",
        f"encoder={json.dumps(TINY)}",
        "--option",
        "max_target_length=8",
        "--option",
        "decoding=greedy",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    result = run("evaluate", output, "--data", FIXTURES / "lcsts" / "train.jsonl")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert set(metrics) == {"rouge-1", "rouge-2", "rouge-l", "bleu"}
    assert all(0 <= value <= 1 for value in metrics.values()) and np.isfinite(list(metrics.values())).all()
