"""Event-subject extraction (CCKS 2019 financial events): given a text and an event type,
find the company or person the event is about.

The input is ``[CLS] event type [SEP] text [SEP]``; two dense layers score every text token
as the subject's start and end (softmax over the text tokens), as in the "当Bert遇上Keras"
baseline. A long text is scored window by window and the best span of all windows wins.
Answers: ``{"event_type", "subject", "start", "end", "score"}`` with character offsets.
"""

import keras
import numpy as np
from keras import ops

from ..layers import Loss
from ..numerics import NEG_INF
from . import readers
from .base import Task, pad
from .labeling import token_span
from .metrics import prf


class _MaskedLogits(keras.layers.Layer):
    """Per-token logits with everything outside the text segment pushed to NEG_INF."""

    def call(self, inputs):
        logits, segment_ids = inputs
        return ops.where(ops.equal(segment_ids, 1), logits[..., 0], ops.cast(NEG_INF, logits.dtype))

    def compute_mask(self, inputs, mask=None):
        return None


class _SpanLoss(Loss):
    def compute_loss(self, inputs, mask=None):
        positions, start_logits, end_logits = inputs
        starts = keras.losses.sparse_categorical_crossentropy(positions[:, 0], start_logits, from_logits=True)
        ends = keras.losses.sparse_categorical_crossentropy(positions[:, 1], end_logits, from_logits=True)
        return ops.mean(starts + ends)


def _log_softmax(x):
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


class EventExtractionTask(Task):
    """Inputs: ``{"text", "event_type"}`` dicts or ``[text, event_type]`` pairs."""

    name = "event-extraction"
    option_names = ("max_subject_tokens",)
    default_maxlen = 256

    def __init__(self, max_subject_tokens=32, **kwargs):
        super().__init__(max_subject_tokens=max_subject_tokens, **kwargs)

    def read(self, path, skip_bad=False):
        return readers.read_event_subjects(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        if not isinstance(record.get("event_type"), str):
            raise TypeError("missing 'event_type' string")
        if "subject" in record and record["subject"] not in record["text"]:
            raise ValueError(f"subject {record['subject']!r} does not occur in the text")

    def texts(self, records):
        return [r["text"] + r["event_type"] for r in records]

    def collect_labels(self, records):
        return sorted({r["event_type"] for r in records})

    def parse_input(self, item):
        if isinstance(item, (list, tuple)) and len(item) == 2:
            item = {"text": item[0], "event_type": item[1]}
        if (
            isinstance(item, dict)
            and isinstance(item.get("text"), str)
            and isinstance(item.get("event_type"), str)
        ):
            return item
        raise ValueError(
            f"event-extraction: expected [text, event_type] or a dict with 'text' and "
            f"'event_type', got {item!r:.80}"
        )

    def strip_answers(self, record):
        return {"text": record["text"], "event_type": record["event_type"]}

    def build_heads(self, transformer):
        inputs, hidden = transformer.model.inputs, transformer.model.output
        start = _MaskedLogits(name="Start-Logits")([keras.layers.Dense(1, name="Start")(hidden), inputs[1]])
        end = _MaskedLogits(name="End-Logits")([keras.layers.Dense(1, name="End")(hidden), inputs[1]])
        positions = keras.Input(shape=(2,), dtype="int32", name="Input-Positions")
        loss = _SpanLoss(output_axis=[1, 2], name="Span-Loss")([positions, start, end])
        self.train_model = keras.Model([*inputs, positions], loss)
        self.predict_model = keras.Model(inputs, [start, end])

    def features(self, record, training):
        type_ids = self.tokenizer.encode(record["event_type"])[0]
        features = []
        for window in self.windows(record["text"], reserved=len(type_ids) - 1):
            token_ids = type_ids + window.token_ids[1:]
            segment_ids = [0] * len(type_ids) + [1] * (len(window.token_ids) - 1)
            feature = {
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "window": window,
                "offset": len(type_ids),
                "length": len(token_ids),
            }
            if training:
                start = record["text"].find(record["subject"])
                span = token_span(window, start, start + len(record["subject"]))
                if span is None:  # the subject is not in this window
                    continue
                feature["positions"] = [span[0] + feature["offset"], span[1] + feature["offset"]]
            features.append(feature)
        return features

    def collate(self, features, length, with_labels=True):
        inputs = [
            pad([f["token_ids"] for f in features], length),
            pad([f["segment_ids"] for f in features], length),
        ]
        if with_labels:
            inputs.append(np.array([f["positions"] for f in features], "int32"))
        return inputs

    def predict_batch(self, features, length):
        starts, ends = (
            ops.convert_to_numpy(x)
            for x in self.predict_model.predict_on_batch(self.collate(features, length, False))
        )
        results = []
        for start_logits, end_logits, feature in zip(starts, ends, features):
            first, n = feature["offset"], len(feature["window"].offsets)
            if n == 0:
                results.append(None)
                continue
            start_scores = _log_softmax(start_logits[first : first + n])
            end_scores = _log_softmax(end_logits[first : first + n])
            # best (start <= end < start + max_subject_tokens) by joint log-probability
            limit = self.options["max_subject_tokens"]
            pairs = start_scores[:, None] + end_scores[None, :]
            allowed = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), limit)
            pairs = np.where(allowed, pairs, -np.inf)
            s, e = np.unravel_index(np.argmax(pairs), pairs.shape)
            results.append((float(pairs[s, e]), int(s), int(e)))
        return results

    def combine(self, record, parts):
        candidates = [
            (result, feature["window"])
            for feature, result in parts
            if result is not None and not feature["window"].touches_cut(*result[1:])
        ]
        answer = {
            "event_type": record["event_type"],
            "subject": None,
            "start": None,
            "end": None,
            "score": 0.0,
        }
        if candidates:
            (log_probability, first, last), window = max(candidates, key=lambda c: c[0][0])
            start, end = window.span(first, last)
            answer.update(
                subject=record["text"][start:end], start=start, end=end, score=float(np.exp(log_probability))
            )
        return answer

    def score(self, records, predictions):
        gold = [(i, r["subject"]) for i, r in enumerate(records)]
        found = [(i, p["subject"]) for i, p in enumerate(predictions) if p["subject"]]
        return prf(found, gold)
