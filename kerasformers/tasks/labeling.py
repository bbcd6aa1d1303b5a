"""Sequence labelling: NER (CRF or GlobalPointer head) and Chinese word segmentation (CRF).

Labels live on characters in the data and on tokens in the model: a token takes the tag
of the characters it covers (Chinese is one character per token; a Latin word or a number
is one token). Answers go back to character offsets through the tokenizer's offsets, so
``text[start:end]`` is always the entity or word. Long texts are cut into overlapping
windows: CRF tags are stitched token by token from the window where the token has the most
context; GlobalPointer spans from all windows are merged.
"""

import keras
import numpy as np
from keras import ops

from ..layers import ConditionalRandomField, EfficientGlobalPointer, GlobalPointer, Loss
from ..layers.global_pointer import global_pointer_crossentropy
from ..snippets import ViterbiDecoder
from . import readers
from .base import Task, pad
from .metrics import prf
from .windows import best_window_per_token


class _CRFLoss(Loss):
    def __init__(self, sequence_loss, **kwargs):
        super().__init__(**kwargs)
        self.sequence_loss = sequence_loss  # a bound method: the CRF layer stays owned by the model

    def compute_loss(self, inputs, mask=None):
        labels, scores = inputs
        return ops.mean(self.sequence_loss(labels, scores))


class _GridLoss(Loss):
    def compute_loss(self, inputs, mask=None):
        return global_pointer_crossentropy(*inputs)


def token_span(window, start, end):
    """Window content tokens overlapping characters [start, end) → (first, last) or None
    when the span is not wholly inside the window."""
    offsets = window.offsets
    inside = np.nonzero((offsets[:, 0] < end) & (offsets[:, 1] > start) & (offsets[:, 1] > offsets[:, 0]))[0]
    if not len(inside) or offsets[inside[0], 0] > start or offsets[inside[-1], 1] < end:
        return None
    return int(inside[0]), int(inside[-1])


class _TaggingTask(Task):
    """Shared CRF tagging: ``tag_names`` per token, ViterbiDecoder over the CRF transitions."""

    crf_lr_multiplier = 100

    def tag_names(self):
        raise NotImplementedError

    def token_tags(self, record, window):
        """Tag ids of the window's content tokens."""
        raise NotImplementedError

    def build_crf(self, transformer):
        tags = self.tag_names()
        scores = keras.layers.Dense(len(tags), name="Tagger")(transformer.model.output)
        self.crf = ConditionalRandomField(lr_multiplier=self.crf_lr_multiplier, name="CRF")
        scores = self.crf(scores)
        labels = keras.Input(shape=(None,), dtype="int32", name="Input-Tags")
        loss = _CRFLoss(self.crf.sparse_loss, output_axis=1, name="CRF-Loss")([labels, scores])
        self.train_model = keras.Model([*transformer.model.inputs, labels], loss)
        self.predict_model = keras.Model(transformer.model.inputs, scores)

    def features(self, record, training):
        features = []
        for window in self.windows(record["text"]):
            feature = {"token_ids": window.token_ids, "window": window, "length": len(window.token_ids)}
            if training:
                feature["labels"] = self.training_labels(record, window)
            features.append(feature)
        return features

    def training_labels(self, record, window):
        return [0] + list(self.token_tags(record, window)) + [0]

    def collate(self, features, length, with_labels=True):
        token_ids = pad([f["token_ids"] for f in features], length)
        inputs = [token_ids, np.zeros_like(token_ids)]
        if with_labels:
            inputs.append(self.collate_labels(features, length))
        return inputs

    def collate_labels(self, features, length):
        return pad([f["labels"] for f in features], length)

    def predict_batch(self, features, length):
        scores = ops.convert_to_numpy(
            self.predict_model.predict_on_batch(self.collate(features, length, False))
        )
        decoder = ViterbiDecoder(ops.convert_to_numpy(self.crf.trans))
        return [
            decoder.decode(s[1 : 1 + len(f["window"].offsets)]) if len(f["window"].offsets) else []
            for s, f in zip(scores, features)
        ]

    def stitched_tags(self, parts):
        """Per window tag paths → (tag names, (start, end) char offsets) for every token of the text."""
        windows = [feature["window"] for feature, _ in parts]
        names = self.tag_names()
        tags, spans = [], []
        for w, t in best_window_per_token(windows):
            tags.append(names[parts[w][1][t]])
            spans.append(tuple(int(v) for v in windows[w].offsets[t]))
        return tags, spans


class NERTask(_TaggingTask):
    """Named entities with character offsets: ``{"entities": [{"type", "start", "end", "text"}]}``.

    ``head="crf"`` (BERT + CRF over BIO tags) or ``head="global_pointer"`` (a span score per
    entity type; nested entities allowed; ``efficient=True`` for EfficientGlobalPointer).
    """

    name = "ner"
    option_names = ("head", "efficient", "head_size")

    def __init__(self, head="crf", efficient=True, head_size=64, **kwargs):
        if head not in ("crf", "global_pointer"):
            raise ValueError(f"ner: head must be 'crf' or 'global_pointer', got {head!r}")
        super().__init__(head=head, efficient=efficient, head_size=head_size, **kwargs)

    def read(self, path, skip_bad=False):
        return readers.read_char_tags(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        for entity in record.get("entities", []):
            start, end = int(entity["start"]), int(entity["end"])
            if not 0 <= start < end <= len(record["text"]):
                raise ValueError(f"entity {entity!r} is outside the text ({len(record['text'])} characters)")
            str(entity["type"])

    def collect_labels(self, records):
        return sorted({str(e["type"]) for r in records for e in r.get("entities", [])})

    def tag_names(self):
        return ["O"] + [f"{prefix}-{kind}" for kind in self.labels for prefix in "BI"]

    def token_tags(self, record, window):
        tags = np.zeros(len(window.offsets), dtype="int32")
        for entity in record.get("entities", []):
            span = token_span(window, entity["start"], entity["end"])
            if span is None:
                continue
            kind = self.labels.index(str(entity["type"]))
            tags[span[0]] = 1 + 2 * kind
            tags[span[0] + 1 : span[1] + 1] = 2 + 2 * kind
        return tags

    def build_heads(self, transformer):
        if self.options["head"] == "crf":
            return self.build_crf(transformer)
        head_class = EfficientGlobalPointer if self.options["efficient"] else GlobalPointer
        logits = head_class(
            heads=len(self.labels), head_size=self.options["head_size"], name="GlobalPointer"
        )(transformer.model.output)
        grid = keras.Input(shape=(len(self.labels), None, None), dtype="float32", name="Input-Spans")
        loss = _GridLoss(output_axis=1, name="GlobalPointer-Loss")([grid, logits])
        self.train_model = keras.Model([*transformer.model.inputs, grid], loss)
        self.predict_model = keras.Model(transformer.model.inputs, logits)

    def training_labels(self, record, window):
        if self.options["head"] == "crf":
            return super().training_labels(record, window)
        spans = []
        for entity in record.get("entities", []):
            span = token_span(window, entity["start"], entity["end"])
            if span is not None:
                spans.append((self.labels.index(str(entity["type"])), span[0] + 1, span[1] + 1))
        return spans

    def collate_labels(self, features, length):
        if self.options["head"] == "crf":
            return super().collate_labels(features, length)
        grid = np.zeros((len(features), len(self.labels), length, length), dtype="float32")
        for row, feature in enumerate(features):
            for kind, start, end in feature["labels"]:
                grid[row, kind, start, end] = 1
        return grid

    def predict_batch(self, features, length):
        if self.options["head"] == "crf":
            return super().predict_batch(features, length)
        logits = ops.convert_to_numpy(
            self.predict_model.predict_on_batch(self.collate(features, length, False))
        )
        results = []
        for grid, feature in zip(logits, features):
            n = len(feature["window"].offsets)
            kinds, starts, ends = np.nonzero(grid[:, 1 : n + 1, 1 : n + 1] > 0)
            results.append(list(zip(kinds.tolist(), starts.tolist(), ends.tolist())))
        return results

    def combine(self, record, parts):
        text = record["text"]
        if self.options["head"] == "crf":
            tags, spans = self.stitched_tags(parts)
            entities = []
            for entity in readers.tags_to_entities(["?"] * len(tags), tags):
                start, end = spans[entity["start"]][0], spans[entity["end"] - 1][1]
                entities.append({"type": entity["type"], "start": start, "end": end, "text": text[start:end]})
            return {"entities": entities}
        found = {}
        for feature, spans in parts:
            window = feature["window"]
            for kind, first, last in spans:
                if window.touches_cut(first, last):
                    continue
                start, end = window.span(first, last)
                found[(start, end, kind)] = {
                    "type": self.labels[kind],
                    "start": start,
                    "end": end,
                    "text": text[start:end],
                }
        return {"entities": [found[key] for key in sorted(found)]}

    def score(self, records, predictions):
        gold = [
            (i, str(e["type"]), int(e["start"]), int(e["end"]))
            for i, r in enumerate(records)
            for e in r.get("entities", [])
        ]
        found = [
            (i, e["type"], e["start"], e["end"]) for i, p in enumerate(predictions) for e in p["entities"]
        ]
        return prf(found, gold)


class CWSTask(_TaggingTask):
    """Chinese word segmentation, BERT + CRF over B/M/E/S tags:
    ``{"words": ["我", "爱", "北京"], "spans": [[0, 1], [1, 2], [2, 4]]}``."""

    name = "cws"
    TAGS = ("S", "B", "M", "E")

    def read(self, path, skip_bad=False):
        return readers.read_segmented(path, skip_bad)

    def check_record(self, record):
        if isinstance(record, dict) and "words" in record and "text" not in record:
            record["text"] = "".join(record["words"])
        super().check_record(record)
        if "words" in record and "".join(record["words"]) != record["text"]:
            raise ValueError("the words do not join up to the text")

    def tag_names(self):
        return list(self.TAGS)

    def build_heads(self, transformer):
        self.build_crf(transformer)

    def token_tags(self, record, window):
        starts, ends, position = set(), set(), 0
        for word in record["words"]:
            starts.add(position)
            position += len(word)
            ends.add(position)
        tags = []
        for start, end in window.offsets.tolist():
            begins, finishes = start in starts, end in ends
            tags.append(0 if begins and finishes else 1 if begins else 3 if finishes else 2)
        return tags

    def combine(self, record, parts):
        tags, spans = self.stitched_tags(parts)
        words = []
        for tag, (start, end) in zip(tags, spans):
            if not words or tag in "BS" or words[-1][2] in "ES":
                words.append([start, end, tag])
            else:
                words[-1][1:] = [end, tag]
        text = record["text"]
        return {"words": [text[s:e] for s, e, _ in words], "spans": [[s, e] for s, e, _ in words]}

    def score(self, records, predictions):
        gold = []
        for i, record in enumerate(records):
            position = 0
            for word in record["words"]:
                gold.append((i, position, position + len(word)))
                position += len(word)
        found = [(i, s, e) for i, p in enumerate(predictions) for s, e in p["spans"]]
        return prf(found, gold)
