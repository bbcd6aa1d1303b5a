"""`kerasformers train / evaluate / predict` through typer's CliRunner, on format fixtures."""

import json
import pathlib

from typer.testing import CliRunner

from kerasformers.cli import app

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tasks"
TINY = json.dumps(
    {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
)


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_train_evaluate_predict_round_trip(tmp_path):
    output = tmp_path / "sentiment"
    result = run(
        "train",
        "classification",
        "--train",
        FIXTURES / "sentiment.tsv",
        "--valid",
        FIXTURES / "sentiment.tsv",
        "--output",
        output,
        "--checkpoint",
        "scratch",
        "--epochs",
        2,
        "--batch-size",
        4,
        "--option",
        f"encoder={TINY}",
        "--maxlen",
        32,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["trained_from"] == "scratch" and summary["epoch"] == 2
    for name in ("task.json", "bert_config.json", "vocab.txt", "model.weights.h5", "training_curves.png"):
        assert (output / name).is_file(), name
    manifest = json.loads((output / "task.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "classification" and manifest["labels"] == ["0", "1"]

    result = run("evaluate", output, "--data", FIXTURES / "sentiment.tsv")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert set(metrics) == {"accuracy"} and 0 <= metrics["accuracy"] <= 1

    inputs = tmp_path / "inputs.txt"
    inputs.write_text('服务很好\n{"text": "太差了"}\n', encoding="utf-8")
    result = run("predict", output, "--input", inputs, "--quiet")
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(answers) == 2
    for answer in answers:
        assert answer["label"] in ("0", "1")
        assert abs(sum(answer["scores"].values()) - 1) < 1e-4
        assert answer["score"] == max(answer["scores"].values())

    result = run("predict", output, "--input", FIXTURES / "sentiment.tsv", "--original-format", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 4


def test_bad_training_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("好评\t1\n没有标签\n差评\t0\n", encoding="utf-8")
    result = run(
        "train", "classification", "--train", bad, "--output", tmp_path / "out", "--checkpoint", "scratch"
    )
    assert result.exit_code == 1
    assert f"{bad}, line 2" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_task_and_missing_folder(tmp_path):
    result = run("train", "translation", "--train", FIXTURES / "sentiment.tsv", "--output", tmp_path / "o")
    assert result.exit_code == 1 and "unknown task 'translation'" in result.output
    result = run(
        "train",
        "ner",
        "--train",
        FIXTURES / "msra_bmes.txt",
        "--output",
        tmp_path / "o",
        "--option",
        "hed=crf",
    )
    assert result.exit_code == 1 and "unknown option(s) hed" in result.output
    result = run("evaluate", tmp_path / "absent", "--data", FIXTURES / "sentiment.tsv")
    assert result.exit_code == 1 and "task.json" in result.output
