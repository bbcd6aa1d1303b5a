"""Couplets: write the second line of a Chinese couplet ("基于CNN和序列标注的对联机器人").

The article's insight: the two lines of a couplet have the same length and pair up character
by character, so writing the second line is sequence labelling — one softmax over the
vocabulary per input character, and the output always has exactly as many characters as
the input. Architectures (option ``architecture``):

* ``"cnn"`` (the article's): character embedding + stacked gated residual convolutions
  (``cnn_layers`` layers, kernel 3, dilations 1, 2, 4, 1, 2, 4, ...) + per-position softmax;
* ``"bert"``: a BERT-family encoder + per-position softmax (texts longer than one window
  are labelled window by window);
* ``"unilm"``: UniLM seq2seq (as ``title-generation``) forced to write exactly as many
  tokens as the input has characters.

Records are ``{"text": first line, "target": second line}``; whitespace inside a line is
ignored (couplet-clean separates characters with spaces).
"""

import pathlib

import keras
import numpy as np
from keras import ops

from ..layers import Loss
from . import readers
from .base import pad
from .title import Seq2SeqTask

ARCHITECTURES = ("cnn", "bert", "unilm")


# ---- reader ------------------------------------------------------------------------------


def _couplet_files(path):
    """A folder, its ``in.txt`` or its ``out.txt`` → (in.txt, out.txt) paths."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "in.txt"
    if path.name == "out.txt":
        path = path.with_name("in.txt")
    return path, path.with_name("out.txt")


def read_couplets(path, skip_bad=False):
    """couplet-clean (``in.txt`` + ``out.txt``, one line per couplet, characters separated by
    spaces; give the folder or either file), or JSON lines ``{"text", "target"}``
    (``in`` / ``out`` also accepted) → ``[{"text", "target"}]``."""
    path = pathlib.Path(path)
    if path.is_file() and path.name not in ("in.txt", "out.txt") and readers.is_json_lines(path):
        return _read_couplet_json(path, skip_bad)
    first_path, second_path = _couplet_files(path)
    if not first_path.is_file() or not second_path.is_file():
        raise readers.DataFormatError(
            f"{path}: need couplet-clean's in.txt and out.txt side by side "
            f"(looked for {first_path} and {second_path})"
        )
    first, second = readers._Reader(first_path, skip_bad), readers._Reader(second_path, skip_bad)
    firsts, seconds = list(first.lines()), list(second.lines())
    if len(firsts) != len(seconds):
        raise readers.DataFormatError(
            f"{first_path} has {len(firsts)} lines but {second_path} has "
            f"{len(seconds)}: the files must pair up line by line"
        )
    for (number, upper), (_, lower) in zip(firsts, seconds):
        upper, lower = "".join(upper.split()), "".join(lower.split())
        if not upper and not lower:
            continue
        if len(upper) != len(lower) or not upper:
            first.fail(
                number,
                f"the lines differ in length ({len(upper)} characters in in.txt, {len(lower)} in out.txt)",
            )
            continue
        first.records.append({"text": upper, "target": lower})
    first.records.skipped += second.records.skipped
    return first.records


def _read_couplet_json(path, skip_bad):
    reader = readers._Reader(path, skip_bad)
    for number, record in reader.objects():
        upper, lower = record.get("text", record.get("in")), record.get("target", record.get("out"))
        if not isinstance(upper, str) or not isinstance(lower, str):
            reader.fail(number, "expected 'text' and 'target' strings")
            continue
        upper, lower = "".join(upper.split()), "".join(lower.split())
        if len(upper) != len(lower) or not upper:
            reader.fail(number, f"the lines differ in length ({len(upper)} vs {len(lower)} characters)")
            continue
        reader.records.append({"text": upper, "target": lower})
    return reader.records


def write_couplets(records, folder):
    """Records → couplet-clean ``in.txt`` / ``out.txt`` (each character followed by a space, as published)."""
    from ..atomic import atomic_write

    folder = pathlib.Path(folder)
    for name, field in (("in.txt", "text"), ("out.txt", "target")):
        with atomic_write(folder / name) as handle:
            handle.writelines("".join(char + " " for char in record[field]) + "\n" for record in records)


# ---- model -------------------------------------------------------------------------------


class _LabelLoss(Loss):
    """[labels, logits]: per-position cross-entropy where the label is not padding (0)."""

    def compute_loss(self, inputs, mask=None):
        labels, logits = inputs
        weights = ops.cast(ops.not_equal(labels, 0), "float32")
        loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return ops.sum(loss * weights) / ops.maximum(ops.sum(weights), 1.0)


def gated_cnn(vocab_size, hidden, layers, dropout=0.1):
    """Character ids (B, T) → logits (B, T, vocab): embedding, gated residual dilated
    convolutions (``x + conv(x) * sigmoid(gate(x))``, padding kept at zero), a dense softmax head."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="Input-Token")
    mask = ops.expand_dims(ops.cast(ops.not_equal(token_ids, 0), "float32"), -1)
    x = keras.layers.Embedding(vocab_size, hidden, name="Embedding-Token")(token_ids)
    for i in range(layers):
        both = keras.layers.Conv1D(
            2 * hidden, 3, padding="same", dilation_rate=2 ** (i % 3), name=f"GatedCNN-{i}"
        )(x * mask)
        value, gate = ops.split(both, 2, axis=-1)
        x = x + keras.layers.Dropout(dropout, name=f"GatedCNN-{i}-Dropout")(value * ops.sigmoid(gate))
    logits = keras.layers.Dense(vocab_size, name="Output-Characters")(x * mask)
    return token_ids, logits


# ---- the task ----------------------------------------------------------------------------


class CoupletTask(Seq2SeqTask):
    """``predict(["晚风摇树树还挺"])`` → ``[{"target": "晨露润花花更红"}]`` (one character per input character)."""

    name = "couplet"
    metric = "accuracy"
    target_field = "target"
    default_maxlen = 64
    option_names = Seq2SeqTask.option_names + ("architecture", "cnn_layers")

    def __init__(self, architecture="cnn", cnn_layers=6, **kwargs):
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"couplet: architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}"
            )
        kwargs.setdefault("maxlen", self.default_maxlen)
        super().__init__(architecture=architecture, cnn_layers=int(cnn_layers), **kwargs)

    def read(self, path, skip_bad=False):
        return read_couplets(path, skip_bad)

    def check_record(self, record):
        super().check_record(record)
        if "target" in record and len("".join(record["target"].split())) != len(
            "".join(record["text"].split())
        ):
            raise ValueError("'text' and 'target' must have the same number of characters")

    def parse_input(self, item):
        record = super().parse_input(item)
        return {**record, "text": "".join(record["text"].split())}

    @property
    def architecture(self):
        return self.options["architecture"]

    @property
    def is_t5(self):
        return False

    def build(self):
        if self.architecture == "unilm":
            return super().build()
        self.tokenizer = self.spec.tokenizer()
        vocab_size = len(self.spec.token_dict)
        if self.architecture == "cnn":
            token_ids, logits = gated_cnn(
                vocab_size, self.spec.config["hidden_size"], self.options["cnn_layers"]
            )
            inputs = [token_ids]
        else:
            transformer = self.spec.build()
            inputs = transformer.model.inputs
            logits = keras.layers.Dense(vocab_size, name="Output-Characters")(transformer.model.output)
        labels = keras.Input(shape=(None,), dtype="int32", name="Input-Labels")
        loss = _LabelLoss(output_axis=1, name="Characters-Loss")([labels, logits])
        self.train_model = keras.Model([*inputs, labels], loss)
        self.predict_model = keras.Model(inputs, logits)
        self.allowed = self.output_bias(vocab_size)

    def output_bias(self, vocab_size):
        """0 for tokens that are one character, -inf-like for [PAD], [CLS], ##-pieces..."""
        from ..numerics import NEG_INF

        bias = np.full(vocab_size, NEG_INF, dtype="float32")
        for token, index in self.spec.token_dict.items():
            if len(token) == 1 and not token.isspace():
                bias[index] = 0.0
        return bias

    # ---- features ----------------------------------------------------------------------

    def char_ids(self, text):
        unknown = self.tokenizer._token_unk_id
        return [
            self.spec.token_dict.get(char, self.spec.token_dict.get(char.lower(), unknown)) for char in text
        ]

    def features(self, record, training):
        if self.architecture == "unilm":
            features = super().features(record, training)
            features[0]["size"] = len(record["text"])
            return features
        text = record["text"]
        span = len(text) if self.architecture == "cnn" else self.maxlen - 2
        features = []
        for start in range(0, max(len(text), 1), span):
            ids = self.char_ids(text[start : start + span])
            labels = self.char_ids(record["target"][start : start + span]) if training else [0] * len(ids)
            if self.architecture == "bert":
                cls, sep = self.tokenizer._token_start_id, self.tokenizer._token_end_id
                ids, labels = [cls] + ids + [sep], [0] + labels + [0]
            features.append({"token_ids": ids, "labels": labels, "start": start, "length": len(ids)})
        return features

    def collate(self, features, length, with_labels=True):
        if self.architecture == "unilm":
            return super().collate(features, length, with_labels)
        token_ids = pad([f["token_ids"] for f in features], length)
        inputs = [token_ids] if self.architecture == "cnn" else [token_ids, np.zeros_like(token_ids)]
        if with_labels:
            inputs.append(pad([f["labels"] for f in features], length))
        return inputs

    # ---- decoding ----------------------------------------------------------------------

    def predict_batch(self, features, length):
        if self.architecture == "unilm":
            return self.unilm_batch(features)
        logits = ops.convert_to_numpy(
            self.predict_model.predict_on_batch(self.collate(features, length, False))
        )
        offset = 1 if self.architecture == "bert" else 0
        results = []
        for row, feature in zip(logits, features):
            size = len(feature["token_ids"]) - 2 * offset
            results.append((row[offset : offset + size] + self.allowed).argmax(-1).tolist())
        return results

    def unilm_batch(self, features):
        """Exactly ``size`` new tokens per input: the end token is suppressed until then."""
        results = [None] * len(features)
        for size in sorted({f["size"] for f in features}):
            rows = [i for i, f in enumerate(features) if f["size"] == size]
            generated = self.generate_ids(
                [features[i]["token_ids"] for i in rows], min_new_tokens=size, max_new_tokens=size, stop=False
            )
            for i, ids in zip(rows, generated):
                results[i] = ids
        return results

    def combine(self, record, parts):
        text, chars = record["text"], []
        for _, ids in parts:
            for token in self.tokenizer.ids_to_tokens(ids):
                token = token.removeprefix("##")
                chars.append(token if len(token) == 1 else "□")  # a special token: never a real character
        chars = (chars + ["□"] * len(text))[: len(text)]  # UniLM: a window cut the source short
        return {"target": "".join(chars)}

    def score(self, records, predictions):
        import sacrebleu

        pairs = [(p["target"], r["target"]) for p, r in zip(predictions, records)]
        hits = sum(a == b for predicted, gold in pairs for a, b in zip(predicted, gold))
        total = sum(len(gold) for _, gold in pairs)
        bleu = sacrebleu.corpus_bleu([p for p, _ in pairs], [[g for _, g in pairs]], tokenize="char").score
        return {
            "accuracy": hits / max(total, 1),
            "exact_match": sum(p == g for p, g in pairs) / max(len(pairs), 1),
            "bleu": bleu / 100,
        }
