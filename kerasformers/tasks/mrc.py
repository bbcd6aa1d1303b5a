"""Reading comprehension over several passages (WebQA / SogouQA), two ways.

``mrc-mlm`` ("“非自回归”也不差：基于MLM的阅读理解问答"): the input is
``[CLS] [MASK]*k [SEP] question [SEP] passage [SEP]`` and the MLM head fills the k answer slots at
once (answer tokens, then [SEP], then [PAD]). Decoding walks the slots left to right keeping only
tokens that continue the answer as a passage n-gram (or [SEP]); each passage gives an answer and
the mean probability of its tokens, and answers are voted across passages with
``sum(s^2) / (sum(s) + 1)`` over the scores ``s`` each answer received.

``mrc-seq2seq`` (UniLM, as in Su's seq2seq reading-comprehension script): the input is
``[CLS] passage [SEP] question [SEP]`` (segment 0) followed by ``answer [SEP]`` (segment 1). The
decoder votes across passages: a passage whose most likely first token is [SEP] says "no answer"
and is dropped; beam search then runs over the product of the remaining passages' next-token
probabilities (a sum of logs, ``vote="product"``) or the released script's
``sum(p^2) / (sum(p) + 1)`` (``vote="average"``). With ``extractive=True`` (default) the answer
must be an n-gram of some kept passage.

Records: ``{"question", "passages": [{"passage", "answer"}]}`` (``answer`` "" when the passage
has none; an optional ``"answers"`` list gives the accepted gold answers). Answers:
``{"answer": str, "score": float}``; "" means no passage holds an answer. Metrics, as the SogouQA
scorer the articles quote: ``accuracy`` (exact match against any gold answer), ``f1``
(character-level, best gold answer) and ``final`` = their mean (MLM 0.7745, seq2seq 0.7699).
"""

import collections
import json
import os
import random
import unicodedata

import keras
import numpy as np
from keras import ops

from ..layers import Loss
from .base import Task, bucket_length, pad
from .readers import DataFormatError, Records, _Reader

NO_ANSWER = ""
_SEPARATORS = str.maketrans({" ": ",", "、": ",", "；": ",", "，": ","})  # as the articles' scripts
_EPSILON = 1e-12


# ---- data ------------------------------------------------------------------------------


def check_mrc_record(record):
    """A record in the task schema → the same record cleaned (answers default to ""), or raises."""
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("question"), str)
        or not record["question"].strip()
    ):
        raise ValueError("expected an object with a non-empty 'question' string")
    passages = record.get("passages")
    if not isinstance(passages, list) or not passages:
        raise ValueError("'passages' must be a non-empty list")
    cleaned = []
    for index, passage in enumerate(passages):
        if not isinstance(passage, dict) or not isinstance(passage.get("passage"), str):
            raise TypeError(f"passage {index}: expected an object with a 'passage' string")
        answer = passage.get("answer", NO_ANSWER)
        if not isinstance(answer, str):
            raise TypeError(f"passage {index}: 'answer' must be a string, got {answer!r:.40}")
        cleaned.append({"passage": passage["passage"], "answer": answer})
    out = {**record, "passages": cleaned}
    if "answers" in record and not (
        isinstance(record["answers"], list) and all(isinstance(a, str) for a in record["answers"])
    ):
        raise ValueError("'answers' must be a list of strings")
    return out


def _from_webqa_v1(record):
    """Baidu WebQA v1.0 layout (``q_tokens``, ``evidences`` with ``e_tokens``, ``golden_answers``
    and ``type``) → the task schema; ``no_answer`` and negative evidences have answer ""."""
    evidences = record.get("evidences")
    if not isinstance(record.get("q_tokens"), list) or not isinstance(evidences, list):
        raise TypeError("expected 'q_tokens' and 'evidences' lists")
    passages, golds = [], []
    for index, evidence in enumerate(evidences):
        if not isinstance(evidence, dict) or not isinstance(evidence.get("e_tokens"), list):
            raise TypeError(f"evidence {index}: expected an object with an 'e_tokens' list")
        answers = [
            "".join(map(str, tokens))
            for tokens in evidence.get("golden_answers", [])
            if isinstance(tokens, list)
        ]
        answers = [a for a in answers if a and a != "no_answer"]
        if evidence.get("type", "positive") == "negative":
            answers = []
        golds += [a for a in answers if a not in golds]
        passages.append(
            {"passage": "".join(map(str, evidence["e_tokens"])), "answer": answers[0] if answers else ""}
        )
    record = {"question": "".join(map(str, record["q_tokens"])), "passages": passages}
    return {**record, "answers": golds} if golds else record


def _json_array_items(text, path):
    """(line number, value) for each element of a top-level JSON array."""
    decoder, position, line, counted = json.JSONDecoder(), text.index("[") + 1, 1, 0

    def skip(at):
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        return at

    position = skip(position)
    while position < len(text) and text[position] != "]":
        line += text.count("\n", counted, position)
        counted = position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise DataFormatError(f"{path}, line {error.lineno}: invalid JSON ({error.msg})") from None
        yield line, value
        position = skip(position)
        if position < len(text) and text[position] == ",":
            position = skip(position + 1)
        elif position >= len(text) or text[position] != "]":
            raise DataFormatError(f"{path}, line {text.count(chr(10), 0, position) + 1}: expected ',' or ']'")


def read_mrc(path, skip_bad=False):
    """WebQA / SogouQA as the articles' scripts consumed them: a JSON array (or JSON lines) of
    ``{"question", "passages": [{"passage", "answer"}]}``; also Baidu WebQA v1.0 JSON lines
    (``q_tokens`` / ``evidences``). A bad record raises DataFormatError naming file and line."""
    reader = _Reader(path, skip_bad)
    with open(reader.path, encoding="utf-8-sig") as handle:
        text = handle.read()
    if text.lstrip().startswith("["):
        items = _json_array_items(text, reader.path)
    else:
        items = reader.objects()
    for number, record in items:
        try:
            if isinstance(record, dict) and "q_tokens" in record:
                record = _from_webqa_v1(record)
            reader.records.append(check_mrc_record(record))
        except (TypeError, ValueError) as error:
            reader.fail(number, str(error))
    return reader.records


def gold_answers(record):
    """The accepted answers of a record: its ``answers`` list, else its passages' distinct answers."""
    answers = record.get("answers") or []
    for passage in record["passages"]:
        if passage["answer"] and passage["answer"] not in answers:
            answers = [*answers, passage["answer"]]
    return answers or [NO_ANSWER]


def questions_from_entities(ner_records, distractors=2, seed=0):
    """Real-text reading comprehension built from NER sentences (MSRA): for an entity type the
    sentence holds, ask for it ("哪个地名出现在文中？" → a LOC entity) over that sentence plus
    ``distractors`` sentences without that type (answer ""). Gold answers: every entity of that type."""
    questions = {"LOC": "哪个地名出现在文中？", "PER": "文中提到的人是谁？", "ORG": "文中提到了哪个机构？"}
    rng = random.Random(seed)
    records = []
    for record in ner_records:
        by_type = collections.defaultdict(list)
        for entity in sorted(record["entities"], key=lambda e: e["start"]):
            if entity["text"] not in by_type[entity["type"]]:
                by_type[entity["type"]].append(entity["text"])
        kinds = [kind for kind in questions if by_type[kind]]
        if not kinds:
            continue
        kind = rng.choice(kinds)
        others = [
            r["text"]
            for r in rng.sample(ner_records, min(len(ner_records), 4 * distractors))
            if all(e["type"] != kind for e in r["entities"])
        ][:distractors]
        passages = [{"passage": record["text"], "answer": by_type[kind][0]}]
        passages += [{"passage": other, "answer": NO_ANSWER} for other in others]
        rng.shuffle(passages)
        records.append({"question": questions[kind], "passages": passages, "answers": by_type[kind]})
    return records


# ---- metrics -----------------------------------------------------------------------------


def _normalise(text):
    return "".join(
        ch for ch in text.lower() if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def _char_f1(predicted, gold):
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def mrc_scores(predicted, golds):
    """Exact match (``accuracy``), character F1 (``f1``) and their mean (``final``), each the best
    over a question's gold answers, averaged over questions (text lower-cased, spaces and
    punctuation removed)."""
    exact, f1 = [], []
    for answer, answers in zip(predicted, golds):
        answer, answers = _normalise(answer), [_normalise(a) for a in answers]
        exact.append(float(answer in answers))
        f1.append(max(_char_f1(answer, gold) for gold in answers))
    accuracy, f1 = float(np.mean(exact)), float(np.mean(f1))
    return {"final": (accuracy + f1) / 2, "accuracy": accuracy, "f1": f1}


# ---- decoding -----------------------------------------------------------------------------


def continuations(tokens, prefix):
    """Tokens that follow ``prefix`` somewhere in ``tokens`` (every token when it is empty)."""
    n = len(prefix)
    if not n:
        return set(tokens)
    return {tokens[i + n] for i in range(len(tokens) - n) if tuple(tokens[i : i + n]) == tuple(prefix)}


def _vote(probs, vote):
    """Per-passage next-token probabilities (P, B, V) → one log score per (beam, token)."""
    if vote == "product":
        return np.log(probs + _EPSILON).sum(axis=0)
    return np.log((probs**2).sum(axis=0) / (probs.sum(axis=0) + 1) + _EPSILON)


def voting_beam_search(next_probs, passages, end_id, beam_size=1, max_len=16, vote="product", allowed=None):
    """Beam search whose next-token score combines every passage's distribution (see the module
    docstring). ``next_probs(kept, beams)`` → array (len(kept), len(beams), V) for the kept passage
    indices and beam prefixes (tuples); ``allowed(kept, prefix)`` → token ids the answer may take
    next ([SEP] is always allowed), or None for no constraint. Ties break toward the lower token id.
    → (answer ids without [SEP], score, kept passages); ``()`` when every passage says no answer."""
    kept, beams, scores = list(range(passages)), [()], np.zeros(1)
    for step in range(max_len):
        probs = np.asarray(next_probs(kept, beams), dtype="float64")
        if step == 0:
            answering = [i for i in range(len(kept)) if probs[i, 0].argmax() != end_id]
            if not answering:
                return (), float(np.exp(np.log(probs[:, 0, end_id] + _EPSILON).mean())), []
            kept, probs = [kept[i] for i in answering], probs[answering]
        combined = _vote(probs, vote)
        if allowed is not None:
            mask = np.full_like(combined, -np.inf)
            for row, beam in enumerate(beams):
                mask[row, sorted(set(allowed(kept, beam)) | {end_id})] = 0.0
            combined = combined + mask
        candidates = (scores[:, None] + combined).ravel()
        order = np.argsort(-candidates, kind="stable")[:beam_size]
        order = order[np.isfinite(candidates[order])]
        vocab = combined.shape[1]
        beams = [beams[i // vocab] + (int(i % vocab),) for i in order]
        scores = candidates[order]
        if beams[0][-1] == end_id:
            return beams[0][:-1], _sequence_score(scores[0], len(kept), vote), kept
        open_rows = [row for row, beam in enumerate(beams) if beam[-1] != end_id]
        beams, scores = [beams[row] for row in open_rows], scores[open_rows]
    return beams[0], _sequence_score(scores[0], len(kept), vote), kept


def _sequence_score(total, passages, vote):
    """Product vote: the geometric mean over passages of the answer's probability."""
    return float(np.exp(total / passages if vote == "product" else total))


def _find(tokens, answer):
    """First index where the tuple ``answer`` occurs in ``tokens``, or None."""
    n = len(answer)
    return next((i for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) == answer), None)


# ---- shared task code -----------------------------------------------------------------------


def _token_crossentropy(labels, keep, probs):
    """Cross-entropy of probabilities against label ids, averaged where ``keep`` is non-zero."""
    loss = keras.losses.sparse_categorical_crossentropy(labels, probs)
    weights = ops.cast(ops.not_equal(keep, 0), loss.dtype)
    return ops.sum(loss * weights) / ops.maximum(ops.sum(weights), 1)


class _SlotLoss(Loss):
    """[answer labels (B, k), slot probabilities (B, k, V)]: [PAD] labels after the [SEP] do not count."""

    def compute_loss(self, inputs, mask=None):
        labels, probs = inputs
        return _token_crossentropy(labels, labels, probs)


class _UniLMLoss(Loss):
    """[token ids, segment ids, probabilities]: each position predicts the next token where that
    token is in segment 1 (the answer and its [SEP])."""

    def compute_loss(self, inputs, mask=None):
        token_ids, segment_ids, probs = inputs
        return _token_crossentropy(token_ids[:, 1:], segment_ids[:, 1:], probs[:, :-1])


class _AnswerSlots(keras.layers.Layer):
    """MLM probabilities (B, T, V) → the k answer slots (B, k, V) after [CLS]."""

    def __init__(self, slots, **kwargs):
        super().__init__(**kwargs)
        self.slots = slots

    def call(self, probs):
        return probs[:, 1 : self.slots + 1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.slots, input_shape[2])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "slots": self.slots}


class _NextToken(keras.layers.Layer):
    """[probabilities (B, T, V), positions (B,)] → the distribution at each row's position (B, V)."""

    def call(self, inputs):
        probs, positions = inputs
        index = ops.reshape(ops.cast(positions, "int32"), (-1, 1, 1))
        return ops.take_along_axis(probs, index, axis=1)[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][2])

    def compute_mask(self, inputs, mask=None):
        return None


class _ReadingTask(Task):
    metric = "final"
    default_maxlen = 256
    option_names = ("answer_len", "question_len")

    def __init__(self, answer_len=16, question_len=32, **kwargs):
        if answer_len < 2 or question_len < 1:
            raise ValueError(f"{self.name}: answer_len must be at least 2 and question_len at least 1")
        super().__init__(answer_len=int(answer_len), question_len=int(question_len), **kwargs)

    def read(self, path, skip_bad=False):
        return read_mrc(path, skip_bad)

    def records(self, data, skip_bad=False):
        if isinstance(data, (str, os.PathLike)):
            return self.read(data, skip_bad=skip_bad)
        checked = Records()
        for index, record in enumerate(data):
            try:
                checked.append(check_mrc_record(record))
            except (TypeError, ValueError) as error:
                raise DataFormatError(f"record {index}: {error}") from None
        return checked

    def texts(self, records):
        return [r["question"] + "".join(p["passage"] + p["answer"] for p in r["passages"]) for r in records]

    def parse_input(self, item):
        """``{"question", "passages": [text or {"passage"}]}`` or ``[question, [passages]]``."""
        if isinstance(item, (list, tuple)) and len(item) == 2:
            item = {"question": item[0], "passages": item[1]}
        if isinstance(item, dict) and isinstance(item.get("passages"), list):
            item = {
                **item,
                "passages": [p if isinstance(p, dict) else {"passage": p} for p in item["passages"]],
            }
        try:
            return check_mrc_record(item)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{self.name}: expected {{'question', 'passages'}} or [question, [passages]]: {error}"
            ) from None

    def strip_answers(self, record):
        return {"question": record["question"], "passages": [p["passage"] for p in record["passages"]]}

    def score(self, records, predictions):
        return mrc_scores([p["answer"] for p in predictions], [gold_answers(r) for r in records])

    @property
    def answer_len(self):
        return self.options["answer_len"]

    def question_ids(self, question):
        """Question tokens + [SEP], at most ``question_len`` tokens before the [SEP]."""
        ids = self.tokenizer.encode(question)[0][1:-1][: self.options["question_len"]]
        return ids + [self.tokenizer._token_end_id]

    def passage_windows(self, passage, reserved):
        """Windows of one passage (separators normalised as the articles do; offsets unchanged,
        the substitution is one character for one) leaving ``reserved`` tokens for the rest."""
        budget = self.maxlen - reserved
        if budget < 3:
            raise ValueError(
                f"{self.name}: maxlen {self.maxlen} leaves no room for the passage; "
                f"raise maxlen or lower answer_len / question_len"
            )
        from .windows import token_windows

        return token_windows(
            self.tokenizer, passage.translate(_SEPARATORS), budget, max(1, (budget - 2) // 2)
        )

    def training_answer(self, window_text, answer):
        """The answer the model learns for one window: the gold answer (spaces as commas) when all
        its parts occur in the window, else "" (no answer), as the articles' scripts do."""
        parts = [part for part in answer.split(" ") if part]
        if parts and all(part.translate(_SEPARATORS) in window_text for part in parts):
            return answer.translate(_SEPARATORS)
        return NO_ANSWER

    def answer_ids(self, answer):
        """Answer tokens + [SEP], cut to ``answer_len``."""
        ids = self.tokenizer.encode(answer)[0][1:-1] if answer else []
        return ids[: self.answer_len - 1] + [self.tokenizer._token_end_id]

    def answer_text(self, answer, candidates):
        """Answer token ids → the raw passage text they come from (``candidates``: (content token
        ids, window, passage) triples), or the detokenised ids when no passage holds them."""
        for tokens, window, passage in candidates:
            first = _find(tokens, answer)
            if first is not None:
                start, end = window.span(first, first + len(answer) - 1)
                return passage[start:end]
        return self.tokenizer.decode(list(answer))


def _window_text(passage, window):
    return (
        passage.translate(_SEPARATORS)[int(window.offsets[0, 0]) : int(window.offsets[-1, 1])]
        if len(window.offsets)
        else ""
    )


class MLMReadingTask(_ReadingTask):
    """Non-autoregressive reading comprehension with the MLM head (see the module docstring)."""

    name = "mrc-mlm"

    def build(self):
        self.tokenizer = self.spec.tokenizer()
        self.build_heads(self.spec.build(with_mlm=True))

    def build_heads(self, transformer):
        slots = _AnswerSlots(self.answer_len, name="Answer-Slots")(transformer.model.output)
        labels = keras.Input(shape=(self.answer_len,), dtype="int32", name="Input-Answer")
        loss = _SlotLoss(output_axis=1, name="Answer-Loss")([labels, slots])
        self.train_model = keras.Model([*transformer.model.inputs, labels], loss)
        self.predict_model = keras.Model(transformer.model.inputs, slots)

    def features(self, record, training):
        tokenizer = self.tokenizer
        question = self.question_ids(record["question"])
        head = (
            [tokenizer._token_start_id]
            + [tokenizer._token_mask_id] * self.answer_len
            + [tokenizer._token_end_id]
        )
        features = []
        for passage in record["passages"]:
            for window in self.passage_windows(passage["passage"], len(head) + len(question) - 1):
                token_ids = head + question + window.token_ids[1:]
                feature = {
                    "token_ids": token_ids,
                    "length": len(token_ids),
                    "window": window,
                    "passage": passage["passage"],
                }
                if training:
                    answer = self.training_answer(_window_text(passage["passage"], window), passage["answer"])
                    feature["labels"] = self.answer_ids(answer)
                features.append(feature)
        return features

    def collate(self, features, length, with_labels=True):
        token_ids = pad([f["token_ids"] for f in features], length)
        inputs = [token_ids, np.zeros_like(token_ids)]
        if with_labels:
            inputs.append(pad([f["labels"] for f in features], self.answer_len))
        return inputs

    def predict_batch(self, features, length):
        probs = ops.convert_to_numpy(
            self.predict_model.predict_on_batch(self.collate(features, length, False))
        )
        return [self.decode_slots(p, f["window"].token_ids[1:-1]) for p, f in zip(probs, features)]

    def decode_slots(self, probs, passage_tokens):
        """Greedy over the slots, each token continuing the answer as a passage n-gram or [SEP];
        → (answer ids, mean probability of the chosen tokens)."""
        end_id, answer, total = self.tokenizer._token_end_id, (), 0.0
        for slot, slot_probs in enumerate(probs):  # noqa: B007 -- slot counts the steps taken
            allowed = sorted(continuations(passage_tokens, answer) | {end_id})
            best = allowed[int(np.argmax(slot_probs[allowed]))]
            total += float(slot_probs[best])
            if best == end_id:
                break
            answer += (best,)
        return answer, total / (slot + 1)

    def combine(self, record, parts):
        votes = collections.defaultdict(list)
        for feature, (answer, score) in parts:
            if answer:
                text = self.answer_text(
                    answer, [(feature["window"].token_ids[1:-1], feature["window"], feature["passage"])]
                )
                votes[text].append(score)
        if not votes:
            return {"answer": NO_ANSWER, "score": 0.0}
        scored = {text: sum(s * s for s in v) / (sum(v) + 1) for text, v in votes.items()}
        best = max(sorted(scored), key=scored.get)
        return {"answer": best, "score": float(scored[best])}


class Seq2SeqReadingTask(_ReadingTask):
    """UniLM seq2seq reading comprehension with the passage-voting beam (module docstring)."""

    name = "mrc-seq2seq"
    option_names = ("answer_len", "question_len", "beam_size", "vote", "extractive")

    def __init__(self, beam_size=1, vote="product", extractive=True, **kwargs):
        if vote not in ("product", "average"):
            raise ValueError(f"mrc-seq2seq: vote must be 'product' or 'average', got {vote!r}")
        if beam_size < 1:
            raise ValueError(f"mrc-seq2seq: beam_size must be at least 1, got {beam_size}")
        super().__init__(beam_size=int(beam_size), vote=vote, extractive=bool(extractive), **kwargs)

    def build(self):
        self.tokenizer = self.spec.tokenizer()
        self.build_heads(self.spec.build(application="unilm"))

    def build_heads(self, transformer):
        token_ids, segment_ids = transformer.model.inputs[:2]
        probs = transformer.model.output
        loss = _UniLMLoss(output_axis=2, name="Answer-Loss")([token_ids, segment_ids, probs])
        self.train_model = keras.Model(transformer.model.inputs, loss)
        positions = keras.Input(shape=(), dtype="int32", name="Input-Position")
        self.next_model = keras.Model(
            [*transformer.model.inputs, positions], _NextToken()([probs, positions])
        )

    def prefixes(self, record):
        """Per passage window: (``[CLS] passage [SEP] question [SEP]`` ids, window, passage)."""
        question = self.question_ids(record["question"])
        prefixes = []
        for passage in record["passages"]:
            for window in self.passage_windows(passage["passage"], len(question) + self.answer_len):
                prefixes.append((window.token_ids + question, window, passage))
        return prefixes

    def features(self, record, training):
        features = []
        for prefix, window, passage in self.prefixes(record):
            answer = self.answer_ids(
                self.training_answer(_window_text(passage["passage"], window), passage["answer"])
            )
            token_ids = prefix + answer
            features.append(
                {
                    "token_ids": token_ids,
                    "segment_ids": [0] * len(prefix) + [1] * len(answer),
                    "length": len(token_ids),
                }
            )
        return features

    def collate(self, features, length, with_labels=True):
        return [
            pad([f["token_ids"] for f in features], length),
            pad([f["segment_ids"] for f in features], length),
        ]

    def predict(self, inputs, batch_size=32, verbose=False):
        """Questions with passages → ``[{"answer", "score"}]`` by the voting beam, one question at a time."""
        if not self.built:
            raise RuntimeError(f"{self.name}: the task has no model yet: fit() or load() it first")
        if isinstance(inputs, (str, dict)):
            raise TypeError("predict() takes a list of inputs")
        records = [self.parse_input(item) for item in inputs]
        if verbose and len(records) > 1:
            from tqdm import tqdm

            records = tqdm(records, desc=f"{self.name}: predicting", unit="question")
        return [self.answer(record) for record in records]

    def answer(self, record):
        prefixes = self.prefixes(record)
        length = bucket_length([len(p) + self.answer_len for p, _, _ in prefixes], self.maxlen)
        contents = [
            (prefix[1 : len(window.token_ids) - 1], window, passage["passage"])
            for prefix, window, passage in prefixes
        ]

        def next_probs(kept, beams):
            rows = [prefixes[p][0] + list(beam) for p in kept for beam in beams]
            segments = [[0] * len(prefixes[p][0]) + [1] * len(beam) for p in kept for beam in beams]
            size = max(4, 1 << (len(rows) - 1).bit_length())  # few distinct batch shapes: few compiles
            filled = rows + rows[-1:] * (size - len(rows))
            inputs = [
                pad(filled, length),
                pad(segments + segments[-1:] * (size - len(rows)), length),
                np.array([len(r) - 1 for r in filled], "int32"),
            ]
            probs = ops.convert_to_numpy(self.next_model.predict_on_batch(inputs))[: len(rows)]
            return probs.reshape(len(kept), len(beams), -1)

        def allowed(kept, prefix):
            return set().union(*(continuations(contents[p][0], prefix) for p in kept))

        ids, score, kept = voting_beam_search(
            next_probs,
            len(prefixes),
            self.tokenizer._token_end_id,
            self.options["beam_size"],
            self.answer_len,
            self.options["vote"],
            allowed if self.options["extractive"] else None,
        )
        if not ids:
            return {"answer": NO_ANSWER, "score": score}
        return {"answer": self.answer_text(ids, [contents[p] for p in kept]), "score": score}
