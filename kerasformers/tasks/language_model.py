"""Language models: continuation (GPT / GPT-2 / GPT2_ML) and dialogue (CDial-GPT).

A plain-text record is ``[CLS] text [SEP]``; a dialogue is CDial-GPT's speaker-token format
``[CLS] [speaker1] u1 [speaker2] u2 [speaker1] ... [SEP]``, where each utterance's segment ids are
its speaker's token id (the segment table is the token table) and every utterance is followed by
the next speaker token. The model learns to end a reply with that token, so decoding stops at
[SEP] or a speaker token. ``predict`` takes every decoding control of
``kerasformers.generation.generate`` (stop strings, repetition penalty, sampling, beams, and
``allowed``: replies restricted to a set of strings); ``evaluate`` reports perplexity.

Data: plain text lines (one text per line) or dialogue JSON in LCCC's format (a list of dialogues,
each a list of utterances; LCCC's space-separated tokens are joined back; a ``{"train": [...]}``
object or JSON lines of lists work too).
"""

import json
import math
import re

import keras
import numpy as np
from keras import ops

from ..generation import generate_text
from ..layers import Loss
from . import encoder as encoders
from .base import Task, bucket_length, pad
from .readers import DataFormatError, Records

FAMILIES = {"gpt": "gpt", "gpt2": "gpt2", "gpt2_ml": "gpt2_ml", "cdial-gpt": "gpt"}  # → model key
SPEAKERS = ("[speaker1]", "[speaker2]")
SCRATCH_CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
DECODING = (
    "max_new_tokens",
    "min_new_tokens",
    "do_sample",
    "top_k",
    "top_p",
    "temperature",
    "repetition_penalty",
    "num_beams",
    "stop_strings",
    "seed",
)
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f])")


def join_tokens(utterance):
    """LCCC stores utterances as space-separated tokens: drop spaces next to non-ASCII characters."""
    return _CJK_SPACE.sub("", utterance.strip())


class _NextTokenLoss(Loss):
    """Mean cross-entropy of each token given the ones before it (padding ignored)."""

    def compute_loss(self, inputs, mask=None):
        token_ids, logits = inputs
        targets, logits = token_ids[:, 1:], logits[:, :-1]
        weights = ops.cast(targets > 0, "float32")
        losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)


class LanguageModelTask(Task):
    """``predict(["今天天气"])`` → ``[{"text": "很好"}]``; dialogue: ``predict([["你好", "你好呀"]])``."""

    name = "language-model"
    metric = "log_likelihood"  # higher is better: minus the loss
    default_maxlen = 128
    option_names = DECODING

    def __init__(self, checkpoint=None, maxlen=None, stride=None, encoder=None, model="gpt2", **options):
        if model not in FAMILIES:
            raise ValueError(f"language-model: model must be one of {', '.join(FAMILIES)}, got {model!r}")
        options.setdefault("max_new_tokens", 32)
        super().__init__(checkpoint, maxlen, stride, encoder, model=FAMILIES[model], **options)
        self.family = model

    # ---- data --------------------------------------------------------------------

    def read(self, path, skip_bad=False):
        with open(path, encoding="utf-8-sig") as handle:
            content = handle.read()
        if content.lstrip()[:1] not in ("[", "{"):
            return _plain_lines(path, content)
        try:
            data = json.loads(content)
        except json.JSONDecodeError:  # JSON lines: one dialogue per line
            data = [
                _json_line(path, number, line)
                for number, line in enumerate(content.splitlines(), 1)
                if line.strip()
            ]
        if isinstance(data, dict):
            if "train" not in data:
                raise DataFormatError(
                    f"{path}: a JSON object needs a 'train' list of dialogues, has "
                    f"{', '.join(map(str, data)) or 'no keys'}"
                )
            data = data["train"]
        records = Records()
        for index, dialogue in enumerate(data):
            if not (isinstance(dialogue, list) and dialogue and all(isinstance(u, str) for u in dialogue)):
                if not skip_bad:
                    raise DataFormatError(
                        f"{path}: dialogue {index} is not a non-empty list of utterance "
                        f"strings: {dialogue!r:.60}"
                    )
                records.skipped += 1
                continue
            records.append({"dialogue": [join_tokens(u) for u in dialogue]})
        return records

    def check_record(self, record):
        if isinstance(record, dict) and isinstance(record.get("dialogue"), list):
            if not record["dialogue"] or not all(isinstance(u, str) for u in record["dialogue"]):
                raise ValueError(
                    f"'dialogue' must be a non-empty list of strings, got {record['dialogue']!r:.60}"
                )
            return
        super().check_record(record)

    def texts(self, records):
        return [r.get("text") or "".join(r["dialogue"]) for r in records]

    def parse_input(self, item):
        if isinstance(item, list) and all(isinstance(u, str) for u in item):
            return {"dialogue": item}
        if isinstance(item, dict) and isinstance(item.get("dialogue"), list):
            return item
        return super().parse_input(item)

    def strip_answers(self, record):
        if "dialogue" in record:
            return {"dialogue": record["dialogue"][:-1] or record["dialogue"]}
        return {"text": record["text"]}

    # ---- building ----------------------------------------------------------------

    def prepare(self, records):
        texts = self.texts(records)
        if self.checkpoint in (None, "scratch"):
            vocabulary = encoders.character_vocabulary(texts)
            for token in SPEAKERS:
                vocabulary.setdefault(token, len(vocabulary))
            config = {**SCRATCH_CONFIG, "max_position_embeddings": self.maxlen, **self.encoder_overrides}
            if self.family == "cdial-gpt":
                config.update(type_vocab_size=len(vocabulary), shared_segment_embeddings=True)
            self.spec = encoders.EncoderSpec(config, vocabulary, model=self.model_family, source="scratch")
        else:
            self.spec = encoders.from_folder(self.checkpoint, model=self.model_family)
        self.build()

    def build(self):
        self.tokenizer = self.spec.tokenizer()
        self.transformer = self.spec.build(final_activation="linear")
        self.build_heads(self.transformer)

    def build_heads(self, transformer):
        if self.family == "cdial-gpt" and getattr(transformer, "segment_vocab_size", 0) == 0:
            raise ValueError(
                "cdial-gpt needs a GPT with segment embeddings (type_vocab_size > 0 in the config)"
            )
        token_ids, logits = transformer.model.inputs[0], transformer.model.output
        loss = _NextTokenLoss(output_axis=1, name="LM-Loss")([token_ids, logits])
        self.train_model = keras.Model(transformer.model.inputs, loss)
        self.logits_model = transformer.model

    def state(self):
        return {"family": self.family}

    def load_state(self, state):
        self.family = state.get("family", self.family)

    # ---- features ----------------------------------------------------------------

    def special(self, token):
        index = self.tokenizer.token_to_id(token)
        if index is None or index == self.tokenizer._token_unk_id:
            raise ValueError(f"the vocabulary has no {token} token (needed by {self.family})")
        return index

    def encode_text(self, text):
        return self.tokenizer.encode(text)[0][1:-1]

    def sequence(self, record, complete=True):
        """Token and segment ids; complete=False leaves the sequence open for generation."""
        start, end = self.tokenizer._token_start_id, self.tokenizer._token_end_id
        if "dialogue" not in record:
            ids = [start] + self.encode_text(record["text"]) + ([end] if complete else [])
            return ids, [0] * len(ids)
        speakers = [self.special(token) for token in SPEAKERS]
        ids, segments = [start, speakers[0]], [start, speakers[0]]
        for index, utterance in enumerate(record["dialogue"]):
            piece = self.encode_text(utterance) + [speakers[(index + 1) % 2]]
            ids += piece
            segments += [speakers[index % 2]] * (len(piece) - 1) + [speakers[(index + 1) % 2]]
        if complete:
            ids, segments = ids[:-1] + [end], segments[:-1] + [segments[-2]]
        return ids, segments

    def features(self, record, training):
        ids, segments = self.sequence(record)
        ids, segments = ids[: self.maxlen], segments[: self.maxlen]
        return [{"token_ids": ids, "segment_ids": segments, "length": len(ids)}] if len(ids) > 1 else []

    @property
    def uses_segments(self):
        return getattr(self.transformer, "segment_vocab_size", 0) > 0

    def collate(self, features, length, with_labels=True):
        inputs = [pad([f["token_ids"] for f in features], length)]
        if self.uses_segments:
            inputs.append(pad([f["segment_ids"] for f in features], length))
        return inputs

    # ---- inference ---------------------------------------------------------------

    def predict(self, inputs, batch_size=32, verbose=False, allowed=None, **decoding):
        """Texts (continued) or dialogue histories (answered) → ``[{"text": ...}]``. Keyword
        arguments override the task's decoding options; ``allowed``: the only replies permitted."""
        if not self.built:
            raise RuntimeError(f"{self.name}: the task has no model yet: fit() or load() it first")
        if isinstance(inputs, (str, dict)):
            raise TypeError("predict() takes a list of inputs")
        unknown = sorted(set(decoding) - set(DECODING))
        if unknown:
            raise TypeError(
                f"{self.name}: unknown decoding option(s) {', '.join(unknown)}; known: "
                f"{', '.join(DECODING)}, allowed"
            )
        options = {**{k: v for k, v in self.options.items() if k in DECODING}, **decoding}
        records = [self.parse_input(item) for item in inputs]
        room = self.maxlen - int(options["max_new_tokens"])
        if room < 2:
            raise ValueError(
                f"max_new_tokens={options['max_new_tokens']} leaves no room for a prompt within "
                f"maxlen={self.maxlen}"
            )
        answers = []
        for start in range(0, len(records), batch_size):
            batch = [self.sequence(record, complete=False) for record in records[start : start + batch_size]]
            batch = [(ids[-room:], segments[-room:]) for ids, segments in batch]  # keep the latest context
            dialogue = any("dialogue" in record for record in records[start : start + batch_size])
            texts = generate_text(
                self.transformer,
                [ids for ids, _ in batch],
                self.tokenizer,
                stop_ids=self.stop_ids(dialogue),
                segment_ids=[s for _, s in batch] if self.uses_segments else None,
                allowed_sequences=allowed,
                **options,
            )
            answers.extend({"text": text} for text in texts)
        return answers

    def stop_ids(self, dialogue):
        stops = [self.tokenizer._token_end_id]
        if dialogue:
            stops += [self.special(token) for token in SPEAKERS]
        return stops

    def evaluate(self, data, skip_bad=False, batch_size=32):
        """Perplexity of the records: exp of the mean next-token cross-entropy over every token."""
        records = self.records(data, skip_bad)
        features = [f for record in records for f in self.features(record, training=False)]
        if not features:
            raise DataFormatError("no evaluation records")
        total, count = 0.0, 0
        length = bucket_length([f["length"] for f in features], self.maxlen)
        for start in range(0, len(features), batch_size):
            batch = features[start : start + batch_size]
            inputs = self.collate(batch, length)
            model_inputs = inputs if len(inputs) > 1 else inputs[0]
            logits = ops.convert_to_numpy(self.logits_model.predict_on_batch(model_inputs)).astype("float64")
            targets = inputs[0][:, 1:]
            logits = logits[:, :-1]
            top = logits.max(-1, keepdims=True)
            log_probs = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
            chosen = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
            total -= float(chosen[targets > 0].sum())
            count += int((targets > 0).sum())
        loss = total / count
        return {"perplexity": math.exp(loss), "loss": loss, "log_likelihood": -loss}


def _plain_lines(path, content):
    records = Records({"text": line.strip()} for line in content.splitlines() if line.strip())
    if not records:
        raise DataFormatError(f"{path}: no text lines")
    return records


def _json_line(path, number, line):
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise DataFormatError(f"{path}, line {number}: invalid JSON ({error.msg})") from None
