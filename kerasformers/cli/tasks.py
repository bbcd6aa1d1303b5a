"""``kerasformers train / evaluate / predict``: the task systems from the command line.

    kerasformers train ner --train msra_train.txt --valid msra_dev.txt --output ner_model/
    kerasformers evaluate ner_model/ --data msra_test.txt          # one JSON line of metrics
    kerasformers predict ner_model/ --input texts.txt              # JSON lines of answers

Data files are read in the task's original public format (see ``kerasformers.tasks.readers``).
Without ``--checkpoint`` training starts from the cached pretrained small Chinese model when it
exists, else from a small model with a vocabulary built from the training data.
"""

import json
import sys
from pathlib import Path

import typer

from .common import fail

SkipBad = typer.Option(
    False, "--skip-bad", help="Skip malformed records (counted on stderr) instead of failing."
)


def _tasks():
    from .. import tasks

    return tasks


def _report_skipped(records, what):
    if getattr(records, "skipped", 0):
        typer.echo(f"skipped {records.skipped} bad record(s) in {what}", err=True)


def _user_errors():
    from ..checkpoints import CheckpointError
    from ..tasks import DataFormatError

    return (DataFormatError, CheckpointError, FileNotFoundError, ValueError, TypeError)


def _parse_options(pairs):
    """``--option key=value`` (JSON values where they parse) → dict."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--option must be key=value, got {pair!r}")
        try:
            options[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = value
    return options


TaskName = typer.Argument(
    ...,
    help="classification | sentence-pair | ner | cws | relation-extraction | "
    "event-extraction | entity-linking | nl2sql | mrc-mlm | mrc-seq2seq | "
    "title-generation | couplet | language-model",
)
TrainFile = typer.Option(..., "--train", help="Training data in the task's original format.")
ValidFile = typer.Option(None, "--valid", help="Validation data (picks the best epoch).")
OutputFolder = typer.Option(..., "--output", help="Folder for the trained task (replaced atomically).")
Checkpoint = typer.Option(
    None,
    help="Pretrained folder (config + vocab.txt + weights), or 'scratch'. "
    "Default: the cached small Chinese model, else 'scratch'.",
)
Epochs = typer.Option(3, min=1)
BatchSize = typer.Option(16, min=1)
LearningRate = typer.Option(None, help="Default: 1e-3 from scratch, less when pretrained.")
Maxlen = typer.Option(None, help="Tokens per window (longer texts are windowed, never cut).")
TaskOptions = typer.Option(
    None,
    "--option",
    help="Task option key=value, e.g. head=global_pointer, "
    "method=gplinker, schemas=FILE, knowledge_base=FILE.",
)
Seed = typer.Option(0, help="Random seed (initialisation and batch order).")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")
TaskFolder = typer.Argument(..., help="A folder written by `kerasformers train`.")
DataFile = typer.Option(..., "--data", help="Labelled data in the task's original format.")
EvalBatchSize = typer.Option(32, min=1)
InputFile = typer.Option(None, "--input", help="Inputs, one per line (text or JSON); default stdin.")
PredictOutput = typer.Option(None, help="JSON lines output; default stdout.")
OriginalFormat = typer.Option(
    False, "--original-format", help="--input is in the task's original data format."
)


def train(
    task: str = TaskName,
    train_file: Path = TrainFile,
    valid_file: Path | None = ValidFile,
    output: Path = OutputFolder,
    checkpoint: str | None = Checkpoint,
    epochs: int = Epochs,
    batch_size: int = BatchSize,
    learning_rate: float | None = LearningRate,
    maxlen: int | None = Maxlen,
    option: list[str] | None = TaskOptions,
    skip_bad: bool = SkipBad,
    seed: int = Seed,
    quiet: bool = Quiet,
):
    """Train a task and save it to --output (weights, config, vocab, labels, training curves PNG)."""
    tasks = _tasks()
    try:
        task_class = tasks.get_task(task)
        model = task_class(checkpoint=checkpoint, maxlen=maxlen, **_parse_options(option))
        train_records = model.records(str(train_file), skip_bad)
        _report_skipped(train_records, train_file)
        valid_records = None
        if valid_file is not None:
            valid_records = model.records(str(valid_file), skip_bad)
            _report_skipped(valid_records, valid_file)
        model.fit(
            train_records,
            valid_records,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            verbose=0 if quiet else 1,
            seed=seed,
        )
        model.save(output)
    except _user_errors() as error:
        fail(str(error))
    last = model.history[-1] if model.history else {}
    typer.echo(
        json.dumps({"output": str(output), "trained_from": model.spec.source, **last}, ensure_ascii=False)
    )


def evaluate(
    directory: Path = TaskFolder,
    data: Path = DataFile,
    batch_size: int = EvalBatchSize,
    skip_bad: bool = SkipBad,
):
    """Print ONE JSON line of the task's metrics on --data."""
    tasks = _tasks()
    try:
        model = tasks.load(directory)
        records = model.records(str(data), skip_bad)
        _report_skipped(records, data)
        metrics = model.evaluate(records, batch_size=batch_size)
    except _user_errors() as error:
        fail(str(error))
    typer.echo(json.dumps(metrics))


def _read_inputs(model, input_file, original_format, skip_bad):
    """JSON lines (objects or lists) or plain text lines; ``--original-format`` reads the task's
    own data format and drops the answers."""
    if original_format:
        if input_file is None:
            fail("--original-format needs --input FILE")
        records = model.records(str(input_file), skip_bad)
        _report_skipped(records, input_file)
        return [model.strip_answers(record) for record in records]
    if input_file is None:
        return _parse_lines(sys.stdin, "<stdin>")
    with open(input_file, encoding="utf-8-sig") as handle:
        return _parse_lines(handle, input_file)


def _parse_lines(handle, name):
    inputs = []
    for number, line in enumerate(handle, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if line.lstrip()[:1] in "{[":
            try:
                inputs.append(json.loads(line))
                continue
            except json.JSONDecodeError as error:
                fail(f"{name}, line {number}: invalid JSON ({error.msg})")
        inputs.append(line)
    return inputs


def predict(
    directory: Path = TaskFolder,
    input_file: Path | None = InputFile,
    output: Path | None = PredictOutput,
    original_format: bool = OriginalFormat,
    batch_size: int = EvalBatchSize,
    skip_bad: bool = SkipBad,
    quiet: bool = Quiet,
):
    """Print one JSON line of answers per input line."""
    tasks = _tasks()
    try:
        model = tasks.load(directory)
        inputs = _read_inputs(model, input_file, original_format, skip_bad)
        answers = model.predict(inputs, batch_size=batch_size, verbose=not quiet)
    except _user_errors() as error:
        fail(str(error))
    lines = "".join(json.dumps(answer, ensure_ascii=False) + "\n" for answer in answers)
    if output is None:
        sys.stdout.write(lines)
    else:
        output.write_text(lines, encoding="utf-8")


def register(app):
    """Attach ``train``, ``evaluate`` and ``predict`` as top-level commands of ``app``."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
