"""NL2SQL on the TableQA format: reader, SQL strings run in SQLite, learning, save/load, CLI.

The fixture (tests/fixtures/tableqa) is hand-written in the exact schema of the 2019 Zhuiyi
competition: 4 tables, 38 questions."""

import json
import pathlib
import shutil
import sqlite3
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.tasks import TASKS, DataFormatError, NL2SQLTask, load
from kerasformers.tasks.base import bucket_length
from kerasformers.tasks.nl2sql import execute, load_table, read_tableqa, to_sql

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tableqa"
TRAIN = FIXTURE / "train.json"
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def by_question(records, question):
    return next(r for r in records if r["question"] == question)


def test_reader_round_trip():
    records = read_tableqa(TRAIN)
    lines = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()]
    tables = {
        json.loads(line)["id"]: json.loads(line)
        for line in (FIXTURE / "train.tables.json").read_text(encoding="utf-8").splitlines()
    }
    assert len(records) == len(lines) == 38
    for record, line in zip(records, lines):
        assert (record["question"], record["table_id"], record["sql"]) == (
            line["question"],
            line["table_id"],
            line["sql"],
        )
        assert record["table"] == tables[line["table_id"]]
    assert "nl2sql" in TASKS and TASKS["nl2sql"] is NL2SQLTask


def test_reader_names_file_and_line(tmp_path):
    lines = TRAIN.read_text(encoding="utf-8").splitlines()
    shutil.copy(FIXTURE / "train.tables.json", tmp_path / "dev.tables.json")
    bad = json.loads(lines[1])
    bad["sql"]["agg"] = [6]
    (tmp_path / "dev.json").write_text(
        "\n".join([lines[0], json.dumps(bad, ensure_ascii=False)]), encoding="utf-8"
    )
    with pytest.raises(DataFormatError, match=r"dev\.json, line 2: sql: agg must be an integer in 0\.\.5"):
        read_tableqa(tmp_path / "dev.json")
    assert len(read_tableqa(tmp_path / "dev.json", skip_bad=True)) == 1

    unknown = {**json.loads(lines[0]), "table_id": "nope"}
    (tmp_path / "dev.json").write_text(json.dumps(unknown, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"line 1: table_id 'nope' is not in .*dev\.tables\.json"):
        read_tableqa(tmp_path / "dev.json")

    (tmp_path / "dev.tables.json").write_text(
        '{"id": "t", "header": ["a", "b"], "types": ["text"], "rows": []}\n', encoding="utf-8"
    )
    with pytest.raises(
        DataFormatError, match=r"dev\.tables\.json, line 1: 'types' must list one type per column"
    ):
        read_tableqa(tmp_path / "dev.json")

    (tmp_path / "test.json").write_text(lines[0], encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"test\.tables\.json is missing"):
        read_tableqa(tmp_path / "test.json")


def test_gold_sql_executes_and_returns_the_expected_rows():
    records = read_tableqa(TRAIN)
    expected = {
        "世茂茂悦府新盘容积率大于1，请问它的套均面积是多少？": [(98.0,)],
        "杭州的楼盘平均成交均价是多少": [(42000.0,)],
        "广州一共有几个楼盘": [(2,)],
        "广州或者杭州的楼盘最高成交均价是多少": [(48000.0,)],
        "喜剧类型的影片总票房是多少": [(394100.0,)],
        "收盘价低于50元的股票有哪些": [("中国人寿",), ("平安银行",), ("招商银行",)],
        "不是银行行业的股票有哪些": [("中国人寿",), ("中国平安",), ("五粮液",), ("贵州茅台",)],
        "广东或湖北的大学在校生总数是多少": [(115000.0,)],
    }
    for question, rows in expected.items():
        record = by_question(records, question)
        assert execute(record["sql"], record["table"]) == sorted(rows, key=repr), question
    for record in records:  # every gold statement is valid SQLite and finds something
        assert execute(record["sql"], record["table"]), record["question"]
    record = by_question(records, "收盘价低于50元的股票有哪些")
    assert (
        to_sql(record["sql"], record["table"])
        == 'SELECT "证券简称" FROM "Table_5c6d7e8f" WHERE "收盘价" < 50.0'
    )
    # quotes inside names and values stay inside their literals
    table = {
        "id": "q",
        "header": ['他说"好"', "名"],
        "types": ["real", "text"],
        "rows": [[1, "O'Neil"], [2, "李"]],
    }
    sql = {"sel": [0], "agg": [0], "cond_conn_op": 0, "conds": [[1, 2, "O'Neil"]]}
    assert execute(sql, table) == [(1.0,)]


@pytest.fixture(scope="module")
def trained():
    records = read_tableqa(TRAIN)
    task = NL2SQLTask(checkpoint="scratch", encoder=TINY, maxlen=64)
    task.fit(records, epochs=30, batch_size=8, learning_rate=3e-3, verbose=0)
    return task, records


def test_learns_the_fixture(trained):
    task, records = trained
    assert task.history[-1]["loss"] < task.history[0]["loss"] / 3
    metrics = task.evaluate(records)
    assert set(metrics) == {"full_match", "logic_form_accuracy", "execution_accuracy"}
    # trivial baseline: answer every question with the most common gold SQL
    common = Counter(json.dumps(r["sql"], sort_keys=True) for r in records).most_common(1)[0][1] / len(
        records
    )
    assert metrics["full_match"] >= 0.6 > common
    assert metrics["full_match"] <= metrics["logic_form_accuracy"]
    answers = task.predict([task.strip_answers(r) for r in records])
    connection = sqlite3.connect(":memory:")
    for table in {r["table_id"]: r["table"] for r in records}.values():
        load_table(connection, table)
    for record, answer in zip(records, answers):  # every predicted statement runs
        assert answer["query"] == to_sql(answer["sql"], record["table"])
        connection.execute(answer["query"]).fetchall()
        assert answer["sql"]["sel"] and len(answer["sql"]["sel"]) == len(answer["sql"]["agg"])


def test_save_load_predicts_the_same(trained, tmp_path):
    task, records = trained
    task.save(tmp_path / "nl2sql")
    loaded = load(tmp_path / "nl2sql")
    inputs = [task.strip_answers(r) for r in records[:8]]
    assert loaded.predict(inputs, batch_size=8) == task.predict(inputs, batch_size=8)
    features = [task.features(r, training=False)[0] for r in inputs]
    batch = task.collate(features, bucket_length([f["length"] for f in features], 64), with_labels=False)
    for before, after in zip(
        task.predict_model.predict_on_batch(batch), loaded.predict_model.predict_on_batch(batch)
    ):
        np.testing.assert_allclose(np.asarray(before), np.asarray(after), atol=1e-6)


def test_predict_rejects_inputs_without_a_table(trained):
    task, _ = trained
    with pytest.raises(ValueError, match="'question' and 'table'"):
        task.predict(["杭州的楼盘平均成交均价是多少"])
    with pytest.raises(ValueError, match="'types' must list one type per column"):
        task.predict([{"question": "多少", "table": {"header": ["a"], "types": [], "rows": []}}])


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_train_evaluate_predict(tmp_path):
    output = tmp_path / "model"
    result = run(
        "train",
        "nl2sql",
        "--train",
        TRAIN,
        "--output",
        output,
        "--checkpoint",
        "scratch",
        "--epochs",
        1,
        "--batch-size",
        8,
        "--maxlen",
        64,
        "--option",
        f"encoder={json.dumps(TINY)}",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["epoch"] == 1

    result = run("evaluate", output, "--data", TRAIN)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip())
    assert set(metrics) == {"full_match", "logic_form_accuracy", "execution_accuracy"}
    assert all(0 <= value <= 1 for value in metrics.values())

    result = run("predict", output, "--input", TRAIN, "--original-format", "--quiet")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.strip().splitlines()]
    records = read_tableqa(TRAIN)
    assert len(answers) == len(records)
    for record, answer in zip(records, answers):
        assert answer["query"] == to_sql(answer["sql"], record["table"])
        execute(answer["sql"], record["table"])

    record = records[3]
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(
        json.dumps({"question": record["question"], "table": record["table"]}, ensure_ascii=False),
        encoding="utf-8",
    )
    result = run("predict", output, "--input", inputs, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["query"].startswith("SELECT ")

    bad = tmp_path / "bad.json"
    shutil.copy(FIXTURE / "train.tables.json", tmp_path / "bad.tables.json")
    bad.write_text(
        '{"table_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "question": "多少", "sql": {"sel": [9], '
        '"agg": [0], "cond_conn_op": 0, "conds": []}}\n',
        encoding="utf-8",
    )
    result = run("evaluate", output, "--data", bad)
    assert (
        result.exit_code == 1
        and f"{bad}, line 1: sql: sel column must be an integer in 0..4" in result.output
    )
