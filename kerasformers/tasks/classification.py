"""Text classification and sentence-pair classification: a softmax head on the [CLS] vector.

This is the sentiment model of "当Bert遇上Keras": the encoder's first-token output, dropout,
one dense softmax layer. ``pooling="mean"`` reads the mean of the unpadded tokens' outputs
instead: an encoder pretrained by MLM alone (no next-sentence task, like ``chinese-roformer-tiny``)
never trained its [CLS] output to summarise the text. A text longer than one window is
classified window by window and the class probabilities are averaged.
"""

import itertools

import keras
import numpy as np
from keras import ops

from ..layers import Loss, MaskedGlobalAveragePooling1D, TakeToken
from . import readers
from .base import Task, pad
from .metrics import accuracy


class _SoftmaxLoss(Loss):
    def compute_loss(self, inputs, mask=None):
        labels, logits = inputs
        return ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


class ClassificationTask(Task):
    """``predict(["这家酒店很好"])`` → ``[{"label": "1", "score": 0.93, "scores": {"0": .07, "1": .93}}]``."""

    name = "classification"
    metric = "accuracy"
    default_maxlen = 128
    option_names = ("pooling",)

    def __init__(self, pooling="cls", **kwargs):
        if pooling not in ("cls", "mean"):
            raise ValueError(f"{self.name}: pooling must be 'cls' or 'mean', got {pooling!r}")
        super().__init__(pooling=pooling, **kwargs)

    def read(self, path, skip_bad=False):
        return readers.read_labelled_texts(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        if "label" in record and not isinstance(record["label"], (str, int)):
            raise ValueError(f"'label' must be a string, got {record['label']!r:.40}")

    def collect_labels(self, records):
        return sorted({str(r["label"]) for r in records})

    def build_heads(self, transformer):
        sequence = transformer.model.output
        if self.options["pooling"] == "mean":  # the encoder's output carries the padding mask
            vector = MaskedGlobalAveragePooling1D(name="Mean-Pooling")(sequence)
        else:
            vector = TakeToken(0, name="CLS-token")(sequence)
        vector = keras.layers.Dropout(0.1, name="Classifier-Dropout")(vector)
        logits = keras.layers.Dense(len(self.labels), name="Classifier")(vector)
        label_ids = keras.Input(shape=(), dtype="int32", name="Input-Label")
        loss = _SoftmaxLoss(output_axis=1, name="Classifier-Loss")([label_ids, logits])
        self.train_model = keras.Model([*transformer.model.inputs, label_ids], loss)
        self.predict_model = keras.Model(transformer.model.inputs, keras.layers.Softmax()(logits))

    def label_id(self, record):
        label = str(record.get("label", self.labels[0]))
        return self.labels.index(label) if label in self.labels else -1

    def encode_windows(self, record):
        return [w.token_ids for w in self.windows(record["text"])], None

    def features(self, record, training):
        token_ids, segment_ids = self.encode_windows(record)
        label = self.label_id(record) if training else 0
        if label < 0:  # a label never seen in training: nothing to learn from
            return []
        segment_ids = segment_ids or [[0] * len(ids) for ids in token_ids]
        return [
            {"token_ids": t, "segment_ids": s, "label": label, "length": len(t)}
            for t, s in zip(token_ids, segment_ids)
        ]

    def collate(self, features, length, with_labels=True):
        inputs = [
            pad([f["token_ids"] for f in features], length),
            pad([f["segment_ids"] for f in features], length),
        ]
        if with_labels:
            inputs.append(np.array([f["label"] for f in features], dtype="int32"))
        return inputs

    def predict_batch(self, features, length):
        inputs = self.collate(features, length, with_labels=False)
        return keras.ops.convert_to_numpy(self.predict_model.predict_on_batch(inputs))

    def combine(self, record, parts):
        probs = np.mean([result for _, result in parts], axis=0)
        best = int(np.argmax(probs))
        return {
            "label": self.labels[best],
            "score": float(probs[best]),
            "scores": {label: float(p) for label, p in zip(self.labels, probs)},
        }

    def score(self, records, predictions):
        return accuracy([p["label"] for p in predictions], [str(r["label"]) for r in records])


class SentencePairTask(ClassificationTask):
    """Two texts in, one label out (LCQMC: do the questions mean the same?). Inputs are
    ``{"text_a", "text_b"}`` dicts or ``[text_a, text_b]`` pairs."""

    name = "sentence-pair"

    def read(self, path, skip_bad=False):
        return readers.read_text_pairs(path, skip_bad)

    def check_record(self, record):
        if not isinstance(record, dict) or not all(
            isinstance(record.get(k), str) for k in ("text_a", "text_b")
        ):
            raise ValueError(f"expected a dict with 'text_a' and 'text_b' strings, got {record!r:.80}")

    def texts(self, records):
        return [r["text_a"] + r["text_b"] for r in records]

    def parse_input(self, item):
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(t, str) for t in item):
            return {"text_a": item[0], "text_b": item[1]}
        if isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("text_a", "text_b")):
            return item
        raise ValueError(
            f"sentence-pair: expected [text_a, text_b] or a dict with 'text_a' and 'text_b', got {item!r:.80}"
        )

    def strip_answers(self, record):
        return {"text_a": record["text_a"], "text_b": record["text_b"]}

    def encode_windows(self, record):
        """Both texts fit: one input. Otherwise each side is windowed in half the budget and
        every pair of windows is scored (probabilities averaged), so nothing is dropped."""
        from .windows import token_windows

        whole_a = token_windows(self.tokenizer, record["text_a"], 10**9, 1)[0]
        whole_b = token_windows(self.tokenizer, record["text_b"], 10**9, 1)[0]
        if len(whole_a.token_ids) + len(whole_b.token_ids) - 1 <= self.maxlen:
            pairs = [(whole_a, whole_b)]
        else:
            half = (self.maxlen + 1) // 2
            stride = max(1, (half - 2) // 2)
            side_a = token_windows(self.tokenizer, record["text_a"], half, stride)
            side_b = token_windows(self.tokenizer, record["text_b"], self.maxlen + 1 - half, stride)
            pairs = list(itertools.product(side_a, side_b))
        token_ids = [a.token_ids + b.token_ids[1:] for a, b in pairs]
        segment_ids = [[0] * len(a.token_ids) + [1] * (len(b.token_ids) - 1) for a, b in pairs]
        return token_ids, segment_ids
