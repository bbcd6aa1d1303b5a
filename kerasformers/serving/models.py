"""Model folders that the server and the CLI load.

A HuggingFace folder (``config.json`` + weights + tokenizer files) becomes an
`EmbeddingModel` (encoder families: sentence vectors) or a `CompletionModel` (GPT-2:
text generation); a folder saved by the task API becomes a `TaskModel`. All model calls
are synchronous: the server runs them on one worker thread.
"""

import json
import os

import numpy as np
from keras import ops

from ..generation import generate
from ..models import build_transformer_model
from ..tokenizers import BPETokenizer, Tokenizer

# HuggingFace ``model_type`` -> kerasformers family key.
HF_FAMILIES = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "roberta",
    "albert": "albert",
    "electra": "electra",
    "nezha": "nezha",
    "roformer": "roformer",
    "gpt2": "gpt2",
}
ENCODER_FAMILIES = {"bert", "roberta", "albert", "electra", "nezha", "roformer"}
DECODER_FAMILIES = {"gpt2"}
TASK_FILE = "task.json"


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def folder_family(directory):
    """The family of a HuggingFace folder, from ``config.json``'s ``model_type``."""
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"{directory} has no config.json (expected a HuggingFace model folder "
            f"or a task folder with {TASK_FILE})"
        )
    model_type = read_json(path).get("model_type")
    if model_type not in HF_FAMILIES:
        raise ValueError(
            f"{path}: model_type {model_type!r} cannot be served; known: {', '.join(sorted(HF_FAMILIES))}"
        )
    return HF_FAMILIES[model_type]


def mean_pool(hidden, mask):
    """hidden (B, T, D), mask (B, T) of 0/1 -> (B, D): the average of the real tokens."""
    mask = mask[..., None].astype(hidden.dtype)
    return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)


class EmbeddingModel:
    """Sentence vectors from an encoder: ``cls`` or masked ``mean`` pooling, optionally unit length."""

    kind = "embeddings"

    def __init__(self, directory, family, pool="mean", normalize=True):
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        vocab = os.path.join(directory, "vocab.txt")
        if not os.path.isfile(vocab):
            raise ValueError(f"{directory} has no vocab.txt (needed for the {family} tokenizer)")
        settings_path = os.path.join(directory, "tokenizer_config.json")
        settings = read_json(settings_path) if os.path.isfile(settings_path) else {}
        self.tokenizer = Tokenizer(vocab, do_lower_case=settings.get("do_lower_case", True))
        self.transformer = build_transformer_model(
            checkpoint_path=directory, model=family, return_keras_model=False
        )
        self.pad_id = self.tokenizer.token_to_id("[PAD]")
        self.max_tokens = int(self.transformer.max_position)
        self.pool, self.normalize = pool, normalize
        self.dimensions = int(self.transformer.hidden_size)

    def count_tokens(self, text):
        return len(self.tokenizer.encode(text)[0])

    def embed(self, texts):
        """list of str -> float32 array (len(texts), dimensions); one padded forward pass.

        The batch is padded to a power-of-two row count and a multiple of 16 tokens, so the few
        shapes a server sees are compiled once (padding is masked: it never changes a vector)."""
        token_ids, segment_ids = self.tokenizer.encode_batch(list(texts), maxlen=self.max_tokens)
        rows, length = token_ids.shape
        padded_rows = 1 << (rows - 1).bit_length()
        padded_length = min(-(-length // 16) * 16, self.max_tokens)
        token_ids = np.pad(
            token_ids, ((0, padded_rows - rows), (0, padded_length - length)), constant_values=self.pad_id
        )
        token_ids[rows:, 0] = token_ids[0, 0]  # filler rows: one real token, so no row is all padding
        segment_ids = np.pad(segment_ids, ((0, padded_rows - rows), (0, padded_length - length)))
        hidden = ops.convert_to_numpy(self.transformer.model([token_ids, segment_ids], training=False))
        hidden, token_ids = hidden[:rows].astype("float32"), token_ids[:rows]
        vectors = hidden[:, 0] if self.pool == "cls" else mean_pool(hidden, token_ids != self.pad_id)
        if self.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
        return vectors


class CompletionModel:
    """A decoder with its byte-level BPE tokenizer; `stream` yields one token per row per step."""

    kind = "completions"

    def __init__(self, directory, family):
        tokenizer_json = os.path.join(directory, "tokenizer.json")
        if os.path.isfile(tokenizer_json):
            self.tokenizer = BPETokenizer(tokenizer_json)
        elif os.path.isfile(os.path.join(directory, "vocab.json")):
            self.tokenizer = BPETokenizer(
                os.path.join(directory, "vocab.json"), os.path.join(directory, "merges.txt")
            )
        else:
            raise ValueError(f"{directory} has neither tokenizer.json nor vocab.json + merges.txt")
        self.transformer = build_transformer_model(
            checkpoint_path=directory, model=family, return_keras_model=False
        )
        config = read_json(os.path.join(directory, "config.json"))
        eos = config.get("eos_token_id")
        if eos is None:
            eos = self.tokenizer._rust.token_to_id("<|endoftext|>")
        self.eos_id = None if eos is None else int(eos)
        self.max_tokens = int(self.transformer.max_position)

    def encode(self, text):
        return [int(i) for i in self.tokenizer.encode(text)[0]]

    def decode(self, ids):
        return self.tokenizer.decode([int(i) for i in ids])

    def stream(self, prompts, max_new_tokens, temperature=0.0, top_p=None, seed=None):
        """Iterator of (B,) token arrays; a row's tokens after its end-of-text are padding."""
        sampling = temperature > 0
        stop_ids = [] if self.eos_id is None else [self.eos_id]
        return generate(
            self.transformer,
            prompts,
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=temperature if sampling else 1.0,
            top_p=top_p if sampling and top_p is not None and top_p < 1 else None,
            stop_ids=stop_ids,
            pad_id=self.eos_id or 0,
            seed=seed,
            stream=True,
        )


class TaskModel:
    """A folder saved by the task API (``kerasformers.tasks``): structured answers per input."""

    kind = "task"

    def __init__(self, task):
        self.task = task
        self.task_name = task.name

    @classmethod
    def from_folder(cls, directory):
        from .. import tasks  # imported only when a task folder is served

        return cls(tasks.load(directory))

    def check(self, item):
        """None if the task accepts ``item``, else what is wrong with it."""
        if isinstance(item, str) and not item.strip():
            return "empty text"
        try:
            self.task.parse_input(item)
        except ValueError as error:
            return str(error)
        return None

    def predict(self, inputs):
        return list(self.task.predict(list(inputs)))


def load_model(directory, pool="mean"):
    """Any servable folder -> EmbeddingModel | CompletionModel | TaskModel."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{directory} is not a directory")
    if os.path.isfile(os.path.join(directory, TASK_FILE)):
        return TaskModel.from_folder(directory)
    family = folder_family(directory)
    if family in DECODER_FAMILIES:
        return CompletionModel(directory, family)
    return EmbeddingModel(directory, family, pool=pool)
