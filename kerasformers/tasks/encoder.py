"""Where a task's Transformer encoder comes from, and how it is written into a task folder.

``checkpoint`` may be: a folder with ``bert_config.json`` (or ``config.json``), ``vocab.txt``
and a TF1 checkpoint / ``model.safetensors`` / ``pytorch_model.bin`` (bert4keras or HF layout);
``"scratch"`` (a small model with a vocabulary built from the training texts); or None: the
cached pretrained small Chinese model when it exists, else ``"scratch"``.
"""

import collections
import json
import os
import pathlib

from ..models import build_transformer_model, folder_family
from ..tokenizers import Tokenizer, load_vocab, save_vocab

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# A small encoder that trains in minutes on 2 CPU cores.
SCRATCH_CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
_CONFIG_NAMES = ("bert_config.json", "config.json")


class EncoderSpec:
    """Everything needed to rebuild an encoder: its config dict, its vocabulary and its weights."""

    def __init__(self, config, token_dict, weights=None, model="bert", source="scratch"):
        self.config = dict(config)
        self.token_dict = token_dict
        self.weights = weights  # checkpoint path to load, or None
        self.model = model
        self.source = source

    def tokenizer(self):
        return Tokenizer(self.token_dict, do_lower_case=True)

    def build(self, **heads):
        """The Transformer builder object (``.model`` is the Keras model)."""
        config = {**self.config, "vocab_size": len(self.token_dict)}
        path = None
        try:
            transformer = build_transformer_model(
                None, None, model=self.model, return_keras_model=False, **_bert4keras_keys(config), **heads
            )
            if self.weights is not None:
                path = self.weights
                transformer.load_weights_from_checkpoint(path)
        except (ValueError, TypeError) as error:
            raise ValueError(f"cannot build the encoder from {path or self.source}: {error}") from error
        return transformer

    def write(self, directory):
        directory = pathlib.Path(directory)
        with open(directory / "bert_config.json", "w", encoding="utf-8") as handle:
            json.dump(
                {**self.config, "vocab_size": len(self.token_dict)}, handle, indent=2, ensure_ascii=False
            )
        save_vocab(str(directory / "vocab.txt"), self.token_dict)

    @classmethod
    def read(cls, directory, model="bert"):
        directory = pathlib.Path(directory)
        config = _read_json(directory / "bert_config.json")
        return cls(config, load_vocab(str(directory / "vocab.txt")), model=model, source=str(directory))


def _read_json(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing (not a complete task folder?)")
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: invalid JSON ({error})") from error


def _bert4keras_keys(config):
    """Google-style config → build_transformer_model keywords (same renames as read_config)."""
    from ..models.builder import normalize_config

    return normalize_config(config)


def _weights_in(folder):
    """The checkpoint file inside a pretrained folder, in bert4keras's preference order."""
    prefix = folder / "bert_model.ckpt"
    if (folder / "bert_model.ckpt.index").is_file():
        return str(prefix)
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return str(folder / name)
    return None


def from_folder(folder, model="bert"):
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--checkpoint {folder}: not a folder (need config, vocab.txt and weights)")
    config_path = next((folder / n for n in _CONFIG_NAMES if (folder / n).is_file()), None)
    if config_path is None:
        raise ValueError(f"{folder}: no bert_config.json or config.json")
    if not (folder / "vocab.txt").is_file():
        raise ValueError(f"{folder}: no vocab.txt")
    weights = _weights_in(folder)
    if weights is None:
        raise ValueError(f"{folder}: no bert_model.ckpt.index, model.safetensors or pytorch_model.bin")
    config = _read_json(config_path)
    model = folder_family(folder, default=model)  # a two-layout folder's bert_config.json does not say
    return EncoderSpec(
        config, load_vocab(str(folder / "vocab.txt")), weights, model=model, source=str(folder)
    )


def character_vocabulary(texts, max_size=8000):
    """Special tokens + the characters of ``texts`` (lower-cased, most frequent first), plus
    ``##`` continuations so Latin words tokenise character by character instead of to [UNK]."""
    counts = collections.Counter()
    for text in texts:
        counts.update(ch for ch in text.lower() if not ch.isspace())
    tokens = list(SPECIAL_TOKENS)
    for char, _ in counts.most_common(max_size):
        tokens.append(char)
        if char.isascii() and char.isalnum():
            tokens.append("##" + char)
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def from_scratch(texts, overrides=None, model="bert"):
    config = {**SCRATCH_CONFIG, **(overrides or {})}
    return EncoderSpec(config, character_vocabulary(texts), model=model, source="scratch")


def resolve(checkpoint, texts, overrides=None, model="bert"):
    """``checkpoint`` (folder, ``"scratch"`` or None) → EncoderSpec; see the module docstring."""
    if checkpoint is None:
        try:
            from ..pretraining import PRETRAINED_NAME, find_pretrained

            checkpoint = find_pretrained(PRETRAINED_NAME)
        except ImportError:
            checkpoint = None
        if checkpoint is None:
            checkpoint = "scratch"
    if checkpoint == "scratch":
        return from_scratch(texts, overrides, model=model)
    return from_folder(checkpoint, model=model)
