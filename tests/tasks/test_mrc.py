"""Reading comprehension (mrc-mlm, mrc-seq2seq): readers, the voting decoders on hand-built
distributions with known answers, learning on tiny models, save/load, and the CLI."""

import json
import pathlib
import random

import numpy as np
import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.tasks import DataFormatError, load
from kerasformers.tasks.mrc import (
    MLMReadingTask,
    Seq2SeqReadingTask,
    continuations,
    mrc_scores,
    read_mrc,
    voting_beam_search,
)

from .synthetic import PEOPLE, PLACES

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "mrc"
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


# ---- readers -------------------------------------------------------------------------------


def test_readers_round_trip_every_layout(tmp_path):
    records = read_mrc(FIXTURES / "webqa.json")
    assert len(records) == 32
    assert records[1]["question"] == "《红楼梦》的作者是谁？"
    assert {p["answer"] for p in records[1]["passages"]} == {"曹雪芹", ""}
    written = tmp_path / "again.json"
    written.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    assert read_mrc(written) == records

    assert read_mrc(FIXTURES / "sogouqa.jsonl") == records[:12]  # JSON lines, same schema

    webqa_v1 = read_mrc(FIXTURES / "webqa_v1.jsonl")  # Baidu WebQA v1.0: token lists, golden_answers
    assert len(webqa_v1) == 8
    for converted, record in zip(webqa_v1, records):
        assert converted["question"] == record["question"]
        assert converted["passages"] == record["passages"]
        assert converted["answers"] == sorted({p["answer"] for p in record["passages"]} - {""})


def test_bad_records_name_file_and_line(tmp_path):
    array = tmp_path / "bad.json"
    array.write_text(
        '[\n{"question": "谁？", "passages": [{"passage": "张三", "answer": "张三"}]},\n'
        '{"question": "哪里？", "passages": "北京"}\n]\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFormatError, match=rf"{array}, line 3: 'passages' must be a non-empty list"):
        read_mrc(array)
    kept = read_mrc(array, skip_bad=True)
    assert len(kept) == 1 and kept.skipped == 1

    broken = tmp_path / "broken.json"
    broken.write_text('[\n{"question": "谁？",\n "passages": [}\n]', encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"{broken}, line 3: invalid JSON"):
        read_mrc(broken)

    lines = tmp_path / "bad.jsonl"
    lines.write_text(
        '{"question": "谁？", "passages": [{"passage": "张三"}]}\n'
        '{"question": "谁？", "passages": [{"passage": "张三", "answer": 3}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFormatError, match=rf"{lines}, line 2: passage 0: 'answer' must be a string"):
        read_mrc(lines)
    with pytest.raises(DataFormatError, match="record 0: expected an object with a non-empty 'question'"):
        MLMReadingTask().records([{"passages": []}])


def test_metrics_exact_match_and_character_f1():
    scores = mrc_scores(["北京", "北京市", "", "上海"], [["北京"], ["北京"], [""], ["南京", "上海。"]])
    assert scores["accuracy"] == pytest.approx(3 / 4)
    assert scores["f1"] == pytest.approx((1 + 0.8 + 1 + 1) / 4)
    assert scores["final"] == pytest.approx((scores["accuracy"] + scores["f1"]) / 2)


# ---- the voting decoders --------------------------------------------------------------------

END, A, B, C = 1, 2, 3, 4


def table_model(tables):
    """next_probs over fixed per-passage tables: {prefix tuple: distribution over 5 ids}."""
    calls = []

    def next_probs(kept, beams):
        calls.append(list(kept))
        return np.array([[tables[p][beam] for beam in beams] for p in kept])

    return next_probs, calls


def dist(**probs):
    row = np.zeros(5)
    for name, p in probs.items():
        row[{"end": END, "a": A, "b": B, "c": C}[name]] = p
    return row


def test_voting_beam_drops_no_answer_passages_and_multiplies_the_rest():
    tables = [
        {(): dist(a=0.5, b=0.4, end=0.1), (B,): dist(end=0.8, c=0.2), (A,): dist(end=0.9, c=0.1)},
        {(): dist(b=0.6, a=0.3, end=0.1), (B,): dist(end=0.3, c=0.7), (A,): dist(end=0.9, c=0.1)},
        # says "no answer"; kept, it would turn the product to A (.5 * .3 * .2 > .4 * .6 * .01)
        {(): dist(end=0.7, a=0.2, b=0.01, c=0.09), (A,): dist(end=1.0), (B,): dist(end=1.0)},
    ]
    next_probs, calls = table_model(tables)
    answer, score, kept = voting_beam_search(next_probs, 3, END, beam_size=1, max_len=5)
    assert answer == (B,) and kept == [0, 1]
    assert calls == [[0, 1, 2], [0, 1]]
    # geometric mean over the two passages of P(B, end): sqrt((.4 * .8) * (.6 * .3))
    assert score == pytest.approx(np.sqrt(0.4 * 0.8 * 0.6 * 0.3))
    answer, _, _ = voting_beam_search(table_model(tables)[0], 3, END, beam_size=1, max_len=5, vote="average")
    assert answer == (B,)  # (.16 + .36) / 2 > (.25 + .09) / 1.8


def test_every_passage_without_answer_gives_empty_answer():
    tables = [{(): dist(end=0.6, a=0.4)}, {(): dist(end=0.9, b=0.1)}]
    answer, score, kept = voting_beam_search(table_model(tables)[0], 2, END)
    assert answer == () and kept == []
    assert score == pytest.approx(np.sqrt(0.6 * 0.9))


def test_beam_finds_what_greedy_misses_and_is_deterministic():
    tables = [
        {(): dist(a=0.6, b=0.4), (A,): dist(end=0.5, c=0.5), (B,): dist(end=1.0), (A, C): dist(end=1.0)}
    ]
    assert voting_beam_search(table_model(tables)[0], 1, END, beam_size=1)[0] == (A,)  # tie → lower id
    assert voting_beam_search(table_model(tables)[0], 1, END, beam_size=2)[0] == (B,)
    rng = np.random.default_rng(0)
    random_tables = [collections_of_random_rows(rng) for _ in range(3)]
    runs = [
        voting_beam_search(table_model(random_tables)[0], 3, END, beam_size=3, max_len=3) for _ in range(2)
    ]
    assert runs[0] == runs[1]


def collections_of_random_rows(rng):
    class Table(dict):
        def __missing__(self, key):
            self[key] = row = rng.dirichlet(np.ones(5))
            return row

    table = Table()
    table[()] = np.array([0, 0.05, 0.5, 0.25, 0.2])
    return table


def test_extractive_constraint_keeps_answers_inside_the_passage():
    passage = [A, B, C, A]
    assert continuations(passage, ()) == {A, B, C}
    assert continuations(passage, (A,)) == {B} and continuations(passage, (A, B)) == {C}
    rng = np.random.default_rng(1)
    for _ in range(5):
        table = collections_of_random_rows(rng)
        answer, _, _ = voting_beam_search(
            table_model([table])[0],
            1,
            END,
            beam_size=2,
            max_len=4,
            allowed=lambda kept, prefix: continuations(passage, prefix),
        )
        assert any(tuple(passage[i : i + len(answer)]) == answer for i in range(len(passage)))


# ---- learning, save / load, CLI -------------------------------------------------------------


def birthplace_questions(count, seed=0):
    """ "他出生于哪里？" over two short passages in random order: one names a birthplace (the
    answer), the other has no place and says "no answer". Trivial baselines: "" scores 0, always
    the most frequent place about 1/12."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        first, second = rng.sample(PEOPLE, 2)
        place = rng.choice(PLACES)
        passages = [
            {"passage": f"{first}出生于{place}。", "answer": place},
            {"passage": f"{second}今年{rng.randrange(20, 60)}岁。", "answer": ""},
        ]
        rng.shuffle(passages)
        records.append({"question": "他出生于哪里？", "passages": passages})
    return records


@pytest.mark.parametrize("task_class", [MLMReadingTask, Seq2SeqReadingTask], ids=["mlm", "seq2seq"])
def test_task_learns_and_survives_save_load(task_class, tmp_path):
    data = birthplace_questions(280)
    train, valid = data[40:], data[:40]
    options = {"beam_size": 2} if task_class is Seq2SeqReadingTask else {}
    task = task_class(checkpoint="scratch", maxlen=32, encoder=TINY, answer_len=4, question_len=8, **options)
    task.prepare(train)
    untrained = task.evaluate(valid)  # the same decoder on random weights: the baseline to beat
    history = task.fit(train, epochs=4, batch_size=16, learning_rate=3e-3, verbose=0)
    metrics = task.evaluate(valid)
    print(task.name, history, untrained, metrics)
    assert history[-1]["loss"] < history[0]["loss"]
    assert metrics["final"] > max(0.6, untrained["final"] + 0.3), (untrained, metrics)
    inputs = [[r["question"], [p["passage"] for p in r["passages"]]] for r in valid[:6]]
    answers = task.predict(inputs)
    for answer, record in zip(answers, valid):
        assert isinstance(answer["score"], float) and 0 <= answer["score"] <= 1
        assert answer["answer"] == "" or any(answer["answer"] in p["passage"] for p in record["passages"])
    task.save(tmp_path / "saved")
    again = load(tmp_path / "saved").predict(inputs)
    assert [a["answer"] for a in again] == [a["answer"] for a in answers]
    assert [a["score"] for a in again] == pytest.approx([a["score"] for a in answers], abs=1e-6)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_train_evaluate_predict_on_the_fixture(tmp_path):
    output = tmp_path / "mrc"
    result = run(
        "train",
        "mrc-mlm",
        "--train",
        FIXTURES / "webqa.json",
        "--output",
        output,
        "--checkpoint",
        "scratch",
        "--epochs",
        1,
        "--batch-size",
        16,
        "--maxlen",
        64,
        "--quiet",
        "--option",
        f"encoder={json.dumps(TINY)}",
        "--option",
        "answer_len=6",
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((output / "task.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "mrc-mlm" and manifest["options"]["answer_len"] == 6

    result = run("evaluate", output, "--data", FIXTURES / "webqa_v1.jsonl")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    assert set(metrics) == {"final", "accuracy", "f1"} and all(0 <= v <= 1 for v in metrics.values())

    inputs = tmp_path / "questions.jsonl"
    passages = ["东京是日本的首都。", "大阪很大。"]
    inputs.write_text(
        json.dumps({"question": "日本的首都是哪里？", "passages": passages}, ensure_ascii=False)
        + "\n"
        + json.dumps(["哪里很大？", passages], ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    result = run("predict", output, "--input", inputs, "--quiet")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(answers) == 2
    for answer in answers:
        assert set(answer) == {"answer", "score"}
        assert answer["answer"] == "" or any(answer["answer"] in p for p in passages)

    result = run(
        "train", "mrc-seq2seq", "--train", inputs, "--output", tmp_path / "bad", "--checkpoint", "scratch"
    )
    assert result.exit_code == 1 and "line 1: passage 0: expected an object" in result.output
