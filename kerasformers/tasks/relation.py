"""Relation extraction: (subject, predicate, object) triples from raw text (LIC2019 data).

``method="pointer"``: the "subject pointer, then object/predicate pointers" model. Sigmoid
start/end pointers find subjects; the chosen subject's start and end vectors condition a
LayerNormalization (``conditional=True``) over the sequence, and per predicate start/end
pointers find its objects. ``method="gplinker"``: GPLinker — one GlobalPointer marks subject
and object spans, two more (one head per predicate) link subject start → object start and
subject end → object end.

Answers: ``{"spo_list": [{"subject", "predicate", "object", "subject_start", "subject_end",
"object_start", "object_end"}]}`` with character offsets into the input. Scored like LIC2019:
micro F1 over (subject, predicate, object) strings.
"""

import os

import keras
import numpy as np
from keras import ops

from ..layers import GlobalPointer, LayerNormalization, Loss
from ..layers.global_pointer import global_pointer_crossentropy
from . import readers
from .base import Task, pad
from .labeling import token_span
from .metrics import prf

START_THRESHOLD, END_THRESHOLD = 0.6, 0.5


class _GatherSpan(keras.layers.Layer):
    """[hidden (B, T, D), token ids (B, 2)] → the two hidden vectors, concatenated (B, 2D)."""

    def call(self, inputs):
        hidden, ids = inputs
        picks = ops.one_hot(ops.cast(ids, "int32"), ops.shape(hidden)[1], dtype=hidden.dtype)  # (B, 2, T)
        vectors = ops.einsum("bkt,btd->bkd", picks, hidden)
        return ops.reshape(vectors, (ops.shape(hidden)[0], 2 * hidden.shape[-1]))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 2 * input_shape[0][-1])


class _PointerLoss(Loss):
    """Masked binary cross-entropy of the subject and object pointers (summed)."""

    def compute_loss(self, inputs, mask=None):
        subject_true, subject_pred, object_true, object_pred, token_ids = inputs
        keep = ops.cast(ops.not_equal(token_ids, 0), subject_pred.dtype)  # (B, T)

        def masked(y_true, y_pred, weights):
            loss = keras.losses.binary_crossentropy(y_true[..., None], y_pred[..., None])
            loss = ops.sum(loss, axis=tuple(range(2, len(loss.shape))))  # (B, T)
            return ops.sum(loss * weights) / ops.maximum(ops.sum(weights), 1)

        return masked(subject_true, subject_pred, keep) + masked(object_true, object_pred, keep)


class _GridsLoss(Loss):
    def compute_loss(self, inputs, mask=None):
        half = len(inputs) // 2
        return sum(global_pointer_crossentropy(t, p) for t, p in zip(inputs[:half], inputs[half:]))


def _pointer_spans(starts, ends, start_threshold=START_THRESHOLD, end_threshold=END_THRESHOLD):
    """Start/end probabilities over tokens → (start, end) pairs: each start takes the nearest end."""
    spans = []
    end_positions = np.nonzero(ends > end_threshold)[0]
    for start in np.nonzero(starts > start_threshold)[0]:
        after = end_positions[end_positions >= start]
        if len(after):
            spans.append((int(start), int(after[0])))
    return spans


class RelationExtractionTask(Task):
    """See the module docstring. ``schemas``: a LIC2019 ``all_50_schemas`` file or list of
    dicts fixing the predicate set; otherwise predicates come from the training data (and an
    ``all_50_schemas`` file next to the training file is used when present)."""

    name = "relation-extraction"
    option_names = ("method", "head_size")
    default_maxlen = 128

    def __init__(self, method="pointer", head_size=64, schemas=None, **kwargs):
        if method not in ("pointer", "gplinker"):
            raise ValueError(f"relation-extraction: method must be 'pointer' or 'gplinker', got {method!r}")
        super().__init__(method=method, head_size=head_size, **kwargs)
        self.schemas = readers.read_schemas(schemas) if isinstance(schemas, (str, os.PathLike)) else schemas

    def read(self, path, skip_bad=False):
        sibling = os.path.join(os.path.dirname(os.fspath(path)), "all_50_schemas")
        if self.schemas is None and os.path.isfile(sibling):
            self.schemas = readers.read_schemas(sibling)
        return readers.read_spo(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        for spo in record.get("spo_list", []):
            for role in ("subject", "object"):
                if spo[role] not in record["text"]:
                    raise ValueError(f"{role} {spo[role]!r} does not occur in the text")
            str(spo["predicate"])

    def collect_labels(self, records):
        if self.schemas:
            return sorted({s["predicate"] for s in self.schemas})
        return sorted({spo["predicate"] for r in records for spo in r.get("spo_list", [])})

    def state(self):
        return {"schemas": self.schemas}

    def load_state(self, state):
        self.schemas = state.get("schemas")

    # ---- model -------------------------------------------------------------------

    def build_heads(self, transformer):
        if self.options["method"] == "gplinker":
            return self._build_gplinker(transformer)
        inputs, hidden = transformer.model.inputs, transformer.model.output
        predicates = len(self.labels)
        subject_probs = keras.layers.Dense(2, activation="sigmoid", name="Subject-Pointers")(hidden)
        subject_ids = keras.Input(shape=(2,), dtype="int32", name="Input-Subject")
        condition = _GatherSpan(name="Subject-Vectors")([hidden, subject_ids])
        conditioned = LayerNormalization(conditional=True, name="Subject-Condition")([hidden, condition])
        object_probs = keras.layers.Dense(predicates * 2, activation="sigmoid", name="Object-Pointers")(
            conditioned
        )
        object_probs = keras.layers.Reshape((-1, predicates, 2), name="Object-Pointers-Reshape")(object_probs)
        subject_true = keras.Input(shape=(None, 2), name="Input-Subject-Labels")
        object_true = keras.Input(shape=(None, predicates, 2), name="Input-Object-Labels")
        loss = _PointerLoss(output_axis=1, name="Pointer-Loss")(
            [subject_true, subject_probs, object_true, object_probs, inputs[0]]
        )
        self.train_model = keras.Model([*inputs, subject_ids, subject_true, object_true], loss)
        self.subject_model = keras.Model(inputs, subject_probs)
        self.object_model = keras.Model([*inputs, subject_ids], object_probs)

    def _build_gplinker(self, transformer):
        inputs, hidden = transformer.model.inputs, transformer.model.output
        size, predicates = self.options["head_size"], len(self.labels)
        entity = GlobalPointer(heads=2, head_size=size, name="Entity-Pointer")(hidden)
        head = GlobalPointer(
            heads=predicates, head_size=size, RoPE=False, tril_mask=False, name="Head-Pointer"
        )(hidden)
        tail = GlobalPointer(
            heads=predicates, head_size=size, RoPE=False, tril_mask=False, name="Tail-Pointer"
        )(hidden)
        grids = [
            keras.Input(shape=(heads, None, None), name=f"Input-{name}-Grid")
            for heads, name in ((2, "Entity"), (predicates, "Head"), (predicates, "Tail"))
        ]
        loss = _GridsLoss(output_axis=3, name="GPLinker-Loss")([*grids, entity, head, tail])
        self.train_model = keras.Model([*inputs, *grids], loss)
        self.predict_model = keras.Model(inputs, [entity, head, tail])

    # ---- features ----------------------------------------------------------------

    def _window_triples(self, record, window):
        """Gold triples as window token spans: (subject (s, e), predicate id, object (s, e))."""
        triples = []
        for spo in record.get("spo_list", []):
            if spo["predicate"] not in self.labels:
                continue
            spans = []
            for role in ("subject", "object"):
                start = record["text"].find(spo[role])
                spans.append(token_span(window, start, start + len(spo[role])))
            if None not in spans:
                triples.append((spans[0], self.labels.index(spo["predicate"]), spans[1]))
        return triples

    def features(self, record, training):
        features = []
        for window in self.windows(record["text"]):
            base = {"token_ids": window.token_ids, "window": window, "length": len(window.token_ids)}
            if not training:
                features.append(base)
                continue
            triples = [
                ((s[0] + 1, s[1] + 1), p, (o[0] + 1, o[1] + 1))  # +1: [CLS]
                for s, p, o in self._window_triples(record, window)
            ]
            if self.options["method"] == "gplinker":
                features.append({**base, "triples": triples})
                continue
            subjects = sorted({s for s, _, _ in triples})
            for subject in subjects or [(0, 0)]:  # a record without triples still teaches "no subject"
                features.append({**base, "triples": triples, "subject": subject, "subjects": subjects})
        return features

    def collate(self, features, length, with_labels=True):
        token_ids = pad([f["token_ids"] for f in features], length)
        inputs = [token_ids, np.zeros_like(token_ids)]
        if not with_labels:
            return inputs
        batch, predicates = len(features), len(self.labels)
        if self.options["method"] == "gplinker":
            entity = np.zeros((batch, 2, length, length), "float32")
            head = np.zeros((batch, predicates, length, length), "float32")
            tail = np.zeros((batch, predicates, length, length), "float32")
            for row, feature in enumerate(features):
                for (ss, se), p, (os_, oe) in feature["triples"]:
                    entity[row, 0, ss, se] = entity[row, 1, os_, oe] = 1
                    head[row, p, ss, os_] = tail[row, p, se, oe] = 1
            return inputs + [entity, head, tail]
        subject_ids = np.array([f["subject"] for f in features], "int32")
        subject_true = np.zeros((batch, length, 2), "float32")
        object_true = np.zeros((batch, length, predicates, 2), "float32")
        for row, feature in enumerate(features):
            for start, end in feature["subjects"]:
                subject_true[row, start, 0] = subject_true[row, end, 1] = 1
            for subject, p, (start, end) in feature["triples"]:
                if subject == tuple(feature["subject"]):
                    object_true[row, start, p, 0] = object_true[row, end, p, 1] = 1
        return inputs + [subject_ids, subject_true, object_true]

    # ---- inference ---------------------------------------------------------------

    def predict_batch(self, features, length):
        inputs = self.collate(features, length, with_labels=False)
        if self.options["method"] == "gplinker":
            return self._decode_gplinker(features, inputs)
        subject_probs = ops.convert_to_numpy(self.subject_model.predict_on_batch(inputs))
        queries = []  # (row, subject) for every subject found in every window
        for row, (probs, feature) in enumerate(zip(subject_probs, features)):
            n = len(feature["window"].offsets)
            for start, end in _pointer_spans(probs[1 : n + 1, 0], probs[1 : n + 1, 1]):
                queries.append((row, (start + 1, end + 1)))
        results = [[] for _ in features]
        batch = len(features)
        for first in range(0, len(queries), batch):  # subjects go through the object model in batches
            chunk = queries[first : first + batch]
            rows = [row for row, _ in chunk] + [chunk[-1][0]] * (batch - len(chunk))
            subjects = [subject for _, subject in chunk] + [chunk[-1][1]] * (batch - len(chunk))
            object_probs = ops.convert_to_numpy(
                self.object_model.predict_on_batch(
                    [inputs[0][rows], inputs[1][rows], np.array(subjects, "int32")]
                )
            )
            for (row, subject), probs in zip(chunk, object_probs):
                n = len(features[row]["window"].offsets)
                for p in range(len(self.labels)):
                    for start, end in _pointer_spans(
                        probs[1 : n + 1, p, 0], probs[1 : n + 1, p, 1], 0.5, 0.5
                    ):
                        results[row].append(((subject[0] - 1, subject[1] - 1), p, (start, end)))
        return results

    def _decode_gplinker(self, features, inputs):
        entity, head, tail = (ops.convert_to_numpy(x) for x in self.predict_model.predict_on_batch(inputs))
        results = []
        for row, feature in enumerate(features):
            n = len(feature["window"].offsets)
            spans = [
                [(int(s), int(e)) for s, e in zip(*np.nonzero(entity[row, kind, 1 : n + 1, 1 : n + 1] > 0))]
                for kind in (0, 1)
            ]
            triples = []
            for ss, se in spans[0]:
                for os_, oe in spans[1]:
                    linked = (head[row, :, ss + 1, os_ + 1] > 0) & (tail[row, :, se + 1, oe + 1] > 0)
                    triples += [((ss, se), int(p), (os_, oe)) for p in np.nonzero(linked)[0]]
            results.append(triples)
        return results

    def combine(self, record, parts):
        text, found = record["text"], {}
        for feature, triples in parts:
            window = feature["window"]
            for subject, p, obj in triples:
                if window.touches_cut(*subject) or window.touches_cut(*obj):
                    continue
                (ss, se), (os_, oe) = window.span(*subject), window.span(*obj)
                found[(ss, se, p, os_, oe)] = {
                    "subject": text[ss:se],
                    "predicate": self.labels[p],
                    "object": text[os_:oe],
                    "subject_start": ss,
                    "subject_end": se,
                    "object_start": os_,
                    "object_end": oe,
                }
        return {"spo_list": [found[key] for key in sorted(found)]}

    def score(self, records, predictions):
        gold = [
            (i, s["subject"], s["predicate"], s["object"])
            for i, r in enumerate(records)
            for s in r["spo_list"]
        ]
        found = [
            (i, s["subject"], s["predicate"], s["object"])
            for i, p in enumerate(predictions)
            for s in p["spo_list"]
        ]
        return prf(found, gold)
