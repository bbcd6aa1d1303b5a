"""The shape every task shares: build, ``fit``, ``predict``, ``evaluate``, ``save`` / ``load``.

A task subclass says how to read its files (``read``), which labels its records carry
(``collect_labels``), how a record becomes model features (``features``; one per sliding
window), how features are batched (``collate``), which Keras models it needs (``build_heads``),
how raw outputs become answers (``predict_batch``) and how answers are scored (``score``).
The loss lives inside the training graph (a ``Loss`` layer), so every task trains with
the same ``model.fit`` loop.
"""

import json
import math
import os
import pathlib

import keras
import numpy as np

from ..atomic import staging_directory
from . import encoder as encoders
from .readers import DataFormatError

MIN_LENGTH = 16
FORMAT_VERSION = 1


class Task:
    """Base class; see the module docstring. ``checkpoint``: folder, ``"scratch"`` or None."""

    name = None
    metric = "f1"  # the evaluate() key that picks the best epoch
    default_maxlen = 256
    option_names = ()  # the task-specific options a subclass accepts

    def __init__(self, checkpoint=None, maxlen=None, stride=None, encoder=None, model="bert", **options):
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            known = ", ".join(("checkpoint", "maxlen", "stride", "encoder", "model", *self.option_names))
            raise TypeError(f"{self.name}: unknown option(s) {', '.join(unknown)}; known: {known}")
        maxlen = maxlen or self.default_maxlen
        if maxlen < 8:
            raise ValueError(f"maxlen must be at least 8 tokens, got {maxlen}")
        self.options = {"maxlen": int(maxlen), "stride": int(stride or max(1, (maxlen - 2) // 2)), **options}
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.encoder_overrides = dict(encoder or {})
        self.model_family = model
        self.labels = None
        self.spec = None
        self.history = []
        self.train_model = None

    # ---- data --------------------------------------------------------------------

    def read(self, path, skip_bad=False):
        raise NotImplementedError

    def records(self, data, skip_bad=False):
        """A path (read in the task's original format) or a list of records → checked records."""
        if isinstance(data, (str, os.PathLike)):
            return self.read(data, skip_bad=skip_bad)
        records = list(data)
        for index, record in enumerate(records):
            try:
                self.check_record(record)
            except (KeyError, TypeError, ValueError) as error:
                raise DataFormatError(f"record {index}: {error}") from None
        return records

    def check_record(self, record):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise TypeError(f"expected a dict with a 'text' string, got {record!r:.80}")

    def texts(self, records):
        """Texts the scratch vocabulary is built from."""
        return [r["text"] for r in records]

    def collect_labels(self, records):
        return None

    # ---- building ----------------------------------------------------------------

    @property
    def maxlen(self):
        return self.options["maxlen"]

    @property
    def built(self):
        return self.train_model is not None

    def prepare(self, records):
        """Choose labels and encoder from the training records, then build the models."""
        self.labels = self.collect_labels(records)
        self.spec = encoders.resolve(
            self.checkpoint, self.texts(records), self.encoder_overrides, model=self.model_family
        )
        self.build()

    def build(self):
        self.tokenizer = self.spec.tokenizer()
        transformer = self.spec.build()
        self.build_heads(transformer)

    def build_heads(self, transformer):
        """Set ``self.train_model`` (loss inside) and the inference model(s)."""
        raise NotImplementedError

    # ---- features ----------------------------------------------------------------

    def windows(self, text, reserved=0):
        """Split ``text`` into token windows of at most ``maxlen - reserved`` tokens (with
        [CLS]/[SEP]); overlapping by ``maxlen - 2 - stride`` tokens. → list of Window."""
        from .windows import token_windows

        return token_windows(self.tokenizer, text, self.maxlen - reserved, self.options["stride"])

    def features(self, record, training):
        raise NotImplementedError

    def collate(self, features, length, with_labels=True):
        """Features → the model's input arrays, padded to ``length`` tokens (labels last)."""
        raise NotImplementedError

    # ---- training ----------------------------------------------------------------

    def default_learning_rate(self):
        """1e-3 from scratch and for tiny pretrained encoders (hidden ≤ 128, e.g. chinese-roformer-tiny:
        measured better than 1e-4 in docs/pretraining.md), 1e-4 for small ones, 2e-5 for BERT-base."""
        hidden = self.spec.config["hidden_size"]
        if self.spec.source == "scratch" or hidden <= 128:
            return 1e-3
        return 1e-4 if hidden < 512 else 2e-5

    def fit(
        self,
        train,
        valid=None,
        epochs=3,
        batch_size=16,
        learning_rate=None,
        skip_bad=False,
        verbose=1,
        seed=0,
    ):
        """Train on records or a file in the task's format; keeps the weights of the best epoch
        on ``valid`` (by ``self.metric``). Returns the history (one dict per epoch)."""
        keras.utils.set_random_seed(seed)
        train_records = self.records(train, skip_bad)
        valid_records = None if valid is None else self.records(valid, skip_bad)
        if not train_records:
            raise DataFormatError("no training records")
        if not self.built:
            self.prepare(train_records)
        features = [f for record in train_records for f in self.features(record, training=True)]
        if not features:
            raise DataFormatError("no usable training examples (every record was filtered out)")
        length = bucket_length([f["length"] for f in features], self.maxlen)
        batches = _Batches(features, batch_size, lambda chosen: self.collate(chosen, length), seed)
        self.train_model.compile(
            optimizer=keras.optimizers.Adam(learning_rate or self.default_learning_rate())
        )
        tracker = _Tracker(self, valid_records)
        self.train_model.fit(batches, epochs=epochs, verbose=verbose, callbacks=[tracker])
        tracker.restore_best()
        return self.history

    # ---- inference ---------------------------------------------------------------

    def parse_input(self, item):
        """One predict() input → a record (default: a text or a dict with 'text')."""
        if isinstance(item, str):
            return {"text": item}
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            return item
        raise ValueError(f"{self.name}: expected a text or a dict with 'text', got {item!r:.80}")

    def predict(self, inputs, batch_size=32, verbose=False):
        """Raw inputs (texts or dicts) → one JSON-serialisable answer dict per input."""
        if not self.built:
            raise RuntimeError(f"{self.name}: the task has no model yet: fit() or load() it first")
        if isinstance(inputs, (str, dict)):
            raise TypeError("predict() takes a list of inputs")
        records = [self.parse_input(item) for item in inputs]
        features = []
        for index, record in enumerate(records):
            for feature in self.features(record, training=False):
                feature["_record"] = index
                features.append(feature)
        outputs = [[] for _ in records]
        steps = range(0, len(features), batch_size)
        if verbose and len(steps) > 1:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"{self.name}: predicting", unit="batch")
        length = bucket_length([f["length"] for f in features], self.maxlen) if features else 0
        for start in steps:
            batch = features[start : start + batch_size]
            filled = batch + batch[-1:] * (batch_size - len(batch))  # one batch shape: one compile
            for feature, result in zip(batch, self.predict_batch(filled, length)):
                outputs[feature["_record"]].append((feature, result))
        return [self.combine(record, parts) for record, parts in zip(records, outputs)]

    def predict_batch(self, features, length):
        """Features (padded to ``length`` tokens) → one raw result per feature (e.g. window scores)."""
        raise NotImplementedError

    def combine(self, record, parts):
        """The (feature, result) pairs of one input's windows → its answer dict."""
        raise NotImplementedError

    def evaluate(self, data, skip_bad=False, batch_size=32):
        """The task's standard metric(s) on records or a file, as a dict of floats."""
        records = self.records(data, skip_bad)
        if not records:
            raise DataFormatError("no evaluation records")
        predictions = self.predict([self.strip_answers(r) for r in records], batch_size=batch_size)
        return self.score(records, predictions)

    def strip_answers(self, record):
        return {"text": record["text"]}

    def score(self, records, predictions):
        raise NotImplementedError

    # ---- persistence -------------------------------------------------------------

    def state(self):
        """Task-specific JSON state saved next to the weights (labels, schemas, ...)."""
        return {}

    def load_state(self, state):
        pass

    def save(self, directory):
        """Write a self-contained folder (weights, config, vocab, labels); replaces ``directory``
        only once everything is written, so a crash never leaves a half-saved task."""
        if not self.built:
            raise RuntimeError(f"{self.name}: nothing to save: fit() the task first")
        directory = pathlib.Path(directory).resolve()
        with staging_directory(directory) as staging:
            staging = pathlib.Path(staging)
            self.spec.write(staging)
            self.train_model.save_weights(str(staging / "model.weights.h5"))
            manifest = {
                "task": self.name,
                "format_version": FORMAT_VERSION,
                "model": self.spec.model,
                "options": self.options,
                "labels": self.labels,
                "state": self.state(),
                "history": self.history,
                "trained_from": self.spec.source,
            }
            with open(staging / "task.json", "w", encoding="utf-8") as handle:
                json.dump(manifest, handle, ensure_ascii=False, indent=2)
            self.write_extra_files(staging)
            if self.history:
                from .curves import plot_history

                plot_history(self.history, staging / "training_curves.png", title=self.name)
        return directory

    def write_extra_files(self, directory):
        pass

    def read_extra_files(self, directory):
        pass

    @classmethod
    def load(cls, directory):
        directory = pathlib.Path(directory)
        manifest = encoders._read_json(directory / "task.json")
        if manifest.get("task") != cls.name:
            raise ValueError(f"{directory}: holds a {manifest.get('task')!r} task, not {cls.name!r}")
        task = cls(checkpoint=directory, **manifest["options"])
        task.labels = manifest["labels"]
        task.history = manifest.get("history", [])
        task.spec = encoders.EncoderSpec.read(directory, model=manifest.get("model", "bert"))
        task.spec.source = manifest.get("trained_from", task.spec.source)
        task.load_state(manifest.get("state", {}))
        task.read_extra_files(directory)
        task.build()
        task.train_model.load_weights(str(directory / "model.weights.h5"))
        return task


def bucket_length(lengths, maxlen):
    """The padded length for a set of sequences: a power of two (at least MIN_LENGTH, at most
    ``maxlen``), so JAX compiles one program per length class instead of one per batch."""
    length = MIN_LENGTH
    while length < max(lengths):
        length *= 2
    return max(min(length, maxlen), max(lengths))


def pad(arrays, length, axes=(0,), value=0, dtype="int32"):
    """Pad each array on ``axes`` to ``length`` and stack them."""
    first = np.asarray(arrays[0])
    shape = [len(arrays)] + [length if axis in axes else size for axis, size in enumerate(first.shape)]
    out = np.full(shape, value, dtype=dtype)
    for row, array in enumerate(arrays):
        array = np.asarray(array)
        out[(row,) + tuple(slice(0, s) for s in array.shape)] = array
    return out


class _Batches(keras.utils.PyDataset):
    """Shuffled batches of features, collated by the task; a new order every epoch."""

    def __init__(self, features, batch_size, collate, seed):
        super().__init__()
        self.features, self.batch_size, self.collate = features, batch_size, collate
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(features))

    def __len__(self):
        return math.ceil(len(self.features) / self.batch_size)

    def __getitem__(self, index):
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        if len(chosen) < self.batch_size:  # fill the last batch: every batch has one shape
            chosen = np.concatenate([chosen, np.resize(self.order, self.batch_size - len(chosen))])
        return (tuple(self.collate([self.features[i] for i in chosen])),)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.features))


class _Tracker(keras.callbacks.Callback):
    """Per epoch: the mean training loss and the validation metrics; keeps the best weights."""

    def __init__(self, task, valid_records):
        super().__init__()
        self.task, self.valid_records = task, valid_records
        self.best, self.best_weights = -math.inf, None

    def on_epoch_begin(self, epoch, logs=None):
        self.batch_losses = []

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self.batch_losses.append(float(logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": len(self.task.history) + 1, "loss": float((logs or {}).get("loss", np.nan))}
        if self.valid_records:
            metrics = self.task.evaluate(self.valid_records)
            entry.update({f"valid_{k}": v for k, v in metrics.items()})
            value = metrics[self.task.metric]
            if value > self.best:
                self.best, self.best_weights = value, self.task.train_model.get_weights()
        self.task.history.append(entry)

    def restore_best(self):
        if self.best_weights is not None:
            self.task.train_model.set_weights(self.best_weights)
