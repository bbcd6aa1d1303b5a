"""Entity linking (CCKS 2019): tie each mention in a short text to its knowledge-base entry.

Candidates for a mention are the entries whose name or alias equals it. BERT reads
``[CLS] text with the mention marked [SEP] candidate description [SEP]`` and a sigmoid on
the [CLS] vector scores the match; the best candidate above 0.5 wins, otherwise the
mention is ``NIL``. Descriptions are the entry's name, types and ``predicate：object``
facts, cut to fit the window (the text itself is never cut: a long text is windowed).

Inputs: ``{"text", "mention_data": [{"mention", "offset"}]}``; without ``mention_data`` the
mentions are found by longest-match lookup of the knowledge-base names. Answers:
``{"mentions": [{"mention", "start", "end", "kb_id", "entity", "score"}]}``. ``evaluate``
scores linking of the given mentions: micro F1 over (offset, mention, kb_id), NIL excluded.
"""

import json
import os
import random

import keras
import numpy as np
from keras import ops

from ..layers import Loss, TakeToken
from . import readers
from .base import Task, pad
from .metrics import prf

MARK_OPEN, MARK_CLOSE = "《", "》"  # wrap the mention inside the text
NIL = "NIL"


class _BinaryLoss(Loss):
    def compute_loss(self, inputs, mask=None):
        labels, probs = inputs
        return ops.mean(keras.losses.binary_crossentropy(ops.cast(labels[:, None], probs.dtype), probs))


def describe(entry):
    facts = "；".join(f"{d.get('predicate', '')}：{d.get('object', '')}" for d in entry.get("data", []))
    return f"{entry['subject']}（{'、'.join(entry.get('type', []))}）{facts}"


class EntityLinkingTask(Task):
    """``knowledge_base``: a CCKS 2019 ``kb_data`` path or ``{subject_id: entry}``; when training
    from a file, a ``kb_data`` file next to it is used if none is given."""

    name = "entity-linking"
    option_names = ("negatives",)
    default_maxlen = 256

    def __init__(self, knowledge_base=None, negatives=2, **kwargs):
        super().__init__(negatives=negatives, **kwargs)
        self.set_knowledge_base(knowledge_base)

    def set_knowledge_base(self, knowledge_base):
        if isinstance(knowledge_base, (str, os.PathLike)):
            knowledge_base = readers.read_knowledge_base(knowledge_base)
        self.knowledge_base = knowledge_base or {}
        self.names = {}
        for kb_id, entry in self.knowledge_base.items():
            for name in dict.fromkeys([entry["subject"], *entry.get("alias", [])]):
                self.names.setdefault(name, []).append(kb_id)
        self.longest_name = max(map(len, self.names), default=0)

    def read(self, path, skip_bad=False):
        sibling = os.path.join(os.path.dirname(os.fspath(path)), "kb_data")
        if not self.knowledge_base and os.path.isfile(sibling):
            self.set_knowledge_base(sibling)
        return readers.read_mentions(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        for mention in record.get("mention_data", []):
            offset = int(mention["offset"])
            if record["text"][offset : offset + len(mention["mention"])] != mention["mention"]:
                raise ValueError(f"mention {mention['mention']!r} is not at offset {offset}")

    def texts(self, records):
        descriptions = [describe(entry) for entry in list(self.knowledge_base.values())[:20000]]
        return [r["text"] for r in records] + descriptions + [MARK_OPEN + MARK_CLOSE]

    def prepare(self, records):
        if not self.knowledge_base:
            raise ValueError("entity-linking needs a knowledge base (kb_data)")
        super().prepare(records)

    def build_heads(self, transformer):
        cls_vector = TakeToken(0, name="CLS-token")(transformer.model.output)
        cls_vector = keras.layers.Dropout(0.1, name="Matcher-Dropout")(cls_vector)
        probs = keras.layers.Dense(1, activation="sigmoid", name="Matcher")(cls_vector)
        labels = keras.Input(shape=(), dtype="float32", name="Input-Match")
        loss = _BinaryLoss(output_axis=1, name="Matcher-Loss")([labels, probs])
        self.train_model = keras.Model([*transformer.model.inputs, labels], loss)
        self.predict_model = keras.Model(transformer.model.inputs, probs)

    # ---- candidates and features -------------------------------------------------

    def find_mentions(self, text):
        """Longest-match lookup of knowledge-base names, left to right, no overlaps."""
        mentions, position = [], 0
        while position < len(text):
            for size in range(min(self.longest_name, len(text) - position), 0, -1):
                if text[position : position + size] in self.names:
                    mentions.append({"mention": text[position : position + size], "offset": position})
                    position += size
                    break
            else:
                position += 1
        return mentions

    def pair(self, text, mention, kb_id, label):
        """One (mention in context, candidate) input: the text windowed around the mention."""
        start = int(mention["offset"])
        end = start + len(mention["mention"])
        marked = text[:start] + MARK_OPEN + text[start:end] + MARK_CLOSE + text[end:]
        budget = self.maxlen // 2
        windows = self.windows(marked, reserved=self.maxlen - budget)
        window = next(
            (
                w
                for w in windows
                if len(w.offsets) and w.offsets[0, 0] <= start and w.offsets[-1, 1] >= end + 2
            ),
            windows[0],
        )
        description = self.tokenizer.encode(describe(self.knowledge_base[kb_id]))[0][1:]
        description = description[: self.maxlen - len(window.token_ids) - 1] + description[-1:]
        token_ids = window.token_ids + description
        segment_ids = [0] * len(window.token_ids) + [1] * len(description)
        return {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "label": label,
            "kb_id": kb_id,
            "length": len(token_ids),
        }

    def parse_input(self, item):
        record = super().parse_input(item)
        mentions = record.get("mention_data")
        return {
            "text": record["text"],
            "mention_data": self.find_mentions(record["text"]) if mentions is None else mentions,
        }

    def features(self, record, training):
        rng = random.Random(len(record["text"]))
        mentions = record["mention_data"]
        features = []
        for index, mention in enumerate(mentions):
            candidates = self.names.get(mention["mention"], [])
            if training:
                gold = str(mention.get("kb_id", NIL))
                if gold in self.knowledge_base:
                    features.append(self.pair(record["text"], mention, gold, 1.0))
                others = [c for c in candidates if c != gold]
                if len(others) < self.options["negatives"]:  # unambiguous mentions still need negatives
                    others += rng.sample(list(self.knowledge_base), min(len(self.knowledge_base), 2))
                for kb_id in rng.sample(others, min(len(others), self.options["negatives"])):
                    if kb_id != gold:
                        features.append(self.pair(record["text"], mention, kb_id, 0.0))
                continue
            for kb_id in candidates:
                features.append({**self.pair(record["text"], mention, kb_id, 0.0), "mention_index": index})
            if not candidates:
                features.append({"mention_index": index, "kb_id": None, "length": 0})
        if not training and not features:
            features.append({"mention_index": None, "kb_id": None, "length": 0})
        return features

    def collate(self, features, length, with_labels=True):
        scored = [f for f in features if f["kb_id"] is not None] or features
        filler = scored[0] if scored[0]["kb_id"] is not None else {"token_ids": [0], "segment_ids": [0]}
        rows = [f if f["kb_id"] is not None else filler for f in features]
        inputs = [pad([f["token_ids"] for f in rows], length), pad([f["segment_ids"] for f in rows], length)]
        if with_labels:
            inputs.append(np.array([f["label"] for f in rows], "float32"))
        return inputs

    def predict_batch(self, features, length):
        if all(f["kb_id"] is None for f in features):
            return [None] * len(features)
        probs = ops.convert_to_numpy(
            self.predict_model.predict_on_batch(self.collate(features, max(length, 1), False))
        )[:, 0]
        return [float(p) if f["kb_id"] is not None else None for p, f in zip(probs, features)]

    def combine(self, record, parts):
        mentions = record["mention_data"]
        best = {}
        for feature, probability in parts:
            index = feature["mention_index"]
            if probability is not None and (index not in best or probability > best[index][1]):
                best[index] = (feature["kb_id"], probability)
        answers = []
        for index, mention in enumerate(mentions):
            kb_id, probability = best.get(index, (NIL, 0.0))
            if probability <= 0.5:
                kb_id = NIL
            start = int(mention["offset"])
            answers.append(
                {
                    "mention": mention["mention"],
                    "start": start,
                    "end": start + len(mention["mention"]),
                    "kb_id": kb_id,
                    "score": probability,
                    "entity": self.knowledge_base[kb_id]["subject"] if kb_id != NIL else None,
                }
            )
        return {"mentions": answers}

    def strip_answers(self, record):
        return {
            "text": record["text"],
            "mention_data": [
                {"mention": m["mention"], "offset": m["offset"]} for m in record.get("mention_data", [])
            ],
        }

    def score(self, records, predictions):
        gold = [
            (i, int(m["offset"]), m["mention"], str(m["kb_id"]))
            for i, r in enumerate(records)
            for m in r.get("mention_data", [])
            if str(m["kb_id"]) in self.knowledge_base
        ]
        found = [
            (i, m["start"], m["mention"], m["kb_id"])
            for i, p in enumerate(predictions)
            for m in p["mentions"]
            if m["kb_id"] != NIL
        ]
        return prf(found, gold)

    # ---- the knowledge base travels with the saved task ----------------------------

    def write_extra_files(self, directory):
        with open(os.path.join(directory, "kb_data"), "w", encoding="utf-8") as handle:
            handle.writelines(
                json.dumps({"subject_id": kb_id, **entry}, ensure_ascii=False) + "\n"
                for kb_id, entry in self.knowledge_base.items()
            )

    def read_extra_files(self, directory):
        self.set_knowledge_base(os.path.join(directory, "kb_data"))
