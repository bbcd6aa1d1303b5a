"""Sliding windows: every token is covered, offsets point into the raw text, stitching picks
each token once (tokenizer only, no model)."""

import pathlib
import re

import pytest

from kerasformers.tasks import NERTask
from kerasformers.tasks.windows import best_window_per_token, token_windows
from kerasformers.tokenizers import Tokenizer

VOCAB = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "vocab" / "bert-base-chinese-vocab.txt"


def test_windows_cover_every_token_with_raw_offsets():
    tokenizer = Tokenizer(str(VOCAB), do_lower_case=True)
    text = "北京时间2026年，Keras 3 在  JAX 上运行。" * 7
    windows = token_windows(tokenizer, text, maxlen=16, stride=7)
    whole = token_windows(tokenizer, text, maxlen=10**6, stride=1)[0]
    assert len(windows) > 3
    for window in windows:
        assert len(window.token_ids) <= 16
        assert (
            window.token_ids[0] == tokenizer._token_start_id
            and window.token_ids[-1] == tokenizer._token_end_id
        )
        assert (
            window.token_ids[1:-1]
            == whole.token_ids[1 + window.first : 1 + window.first + len(window.offsets)]
        )
    covered = sorted({w.first + t for w in windows for t in range(len(w.offsets))})
    assert covered == list(range(len(whole.offsets)))  # nothing truncated
    for start, end in whole.offsets.tolist():
        piece = text[start:end].lower()
        assert piece and not piece.isspace()


def test_stitching_prefers_the_window_with_most_context():
    tokenizer = Tokenizer(str(VOCAB), do_lower_case=True)
    text = "一二三四五六七八九十" * 3
    windows = token_windows(tokenizer, text, maxlen=12, stride=5)
    choice = best_window_per_token(windows)
    assert len(choice) == len(text)
    for token, (w, t) in enumerate(choice):
        assert windows[w].first + t == token
    # windows start at tokens 0, 5, 10, 15, 20. Token 9 is at the cut edge of window 0 but in the
    # middle of window 1; token 7 has 2 tokens of context on its short side in windows 0 and 1
    # alike, and the earlier window keeps it.
    assert [w.first for w in windows] == [0, 5, 10, 15, 20]
    assert choice[9] == (1, 4)
    assert choice[7] == (0, 7)
    assert choice[12] == (1, 7)


class _DigitTagger:
    """Stands in for a trained model: tags every run of digit tokens as one NUM entity, so the
    windowing, stitching and offset mapping can be checked exactly."""

    def __init__(self, task):
        self.task = task

    def __call__(self, features, length):
        results = []
        for feature in features:
            tokens = self.task.tokenizer.ids_to_tokens(feature["window"].token_ids[1:-1])
            digits = [self.task.tokenizer.stem(t).isdigit() for t in tokens]
            if self.task.options["head"] == "crf":
                results.append(
                    [0 if not d else 2 if i and digits[i - 1] else 1 for i, d in enumerate(digits)]
                )
                continue
            spans, start = [], None
            for i, d in enumerate([*digits, False]):
                if d and start is None:
                    start = i
                if not d and start is not None:
                    spans.append((0, start, i - 1))
                    start = None
            results.append(spans)
        return results


@pytest.mark.parametrize("head", ["crf", "global_pointer"])
def test_long_text_entities_are_stitched_onto_raw_offsets(head):
    task = NERTask(checkpoint="scratch", maxlen=16, head=head)
    task.tokenizer = Tokenizer(str(VOCAB), do_lower_case=True)
    task.labels = ["NUM"]
    task.train_model = object()  # marks the task as built; predict_batch is replaced below
    task.predict_batch = _DigitTagger(task)
    text = "".join(f"第{n}号文件在 {n * 37}页，" for n in range(1, 40))
    answer = task.predict([text])[0]
    assert len(task.windows(text)) > 10
    expected = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\d+", text)]
    assert [(e["start"], e["end"], e["text"]) for e in answer["entities"]] == expected
    assert all(e["type"] == "NUM" for e in answer["entities"])
