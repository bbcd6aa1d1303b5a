"""`build_transformer_model`: one call from a config (+ checkpoint) to a Keras model."""

import json
import os
import warnings
from typing import Any

from ..checkpoints.lazy_init import deferred_initialization
from .registry import get_model_class
from .transformer import with_application

# Google / bert4keras config keys → Transformer keyword arguments.
_RENAMES = {
    "max_position_embeddings": "max_position",
    "hidden_dropout_prob": "dropout_rate",
    "attention_probs_dropout_prob": "attention_dropout_rate",
    "type_vocab_size": "segment_vocab_size",
    "layer_norm_epsilon": "layer_norm_eps",
}
# HuggingFace model types whose position table starts at pad_token_id + 1.
_OFFSET_POSITION_TYPES = {"roberta", "xlm-roberta", "camembert", "bart"}
_HF_ONLY_KEYS = {
    "architectures",
    "model_type",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "position_embedding_type",
    "use_cache",
    "classifier_dropout",
    "gradient_checkpointing",
    "initializer_range",
    "chunk_size_feed_forward",
    "is_decoder",
    "add_cross_attention",
    "tie_word_embeddings",
    "output_past",
    "directionality",
    "pooler_fc_size",
    "pooler_num_attention_heads",
    "pooler_num_fc_layers",
    "pooler_size_per_head",
    "pooler_type",
    "bos_token_id",
    "eos_token_id",
    "id2label",
    "label2id",
    "problem_type",
    "return_dict",
    "output_hidden_states",
    "output_attentions",
}


def _load_config_json(config_path):
    with open(config_path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"config {config_path} is not valid JSON: {error}") from error


def read_config(config_path):
    """Read a Google/bert4keras ``bert_config.json`` or a HuggingFace ``config.json``."""
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"config file not found: {config_path}")
    return normalize_config(_load_config_json(config_path))


def folder_family(folder, default="bert"):
    """The family a checkpoint folder holds: its HuggingFace ``config.json``'s ``model_type``.

    A Google ``bert_config.json`` does not say (bert4keras users name the family themselves),
    so a folder without ``config.json`` gives ``default``.
    """
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return default
    return _load_config_json(path).get("model_type", default)


def normalize_config(raw):
    config = {}
    for key, value in raw.items():
        config[_RENAMES.get(key, key)] = value
    if raw.get("model_type") in _OFFSET_POSITION_TYPES:
        pad = raw.get("pad_token_id", 1)
        config["pad_token_id"] = pad
        config["hf_position_offset"] = pad + 1
        config["max_position"] = raw["max_position_embeddings"] - (pad + 1)
    for key in _HF_ONLY_KEYS:
        if not (key == "tie_word_embeddings" and raw.get("model_type") in ("t5", "mt5")):
            config.pop(key, None)  # (T5 reads it: it decides the output head)
    return config


# Keys found in Google / HuggingFace / bert4keras config files that no model here uses: read silently.
_KNOWN_UNUSED_KEYS = {
    "initializer_range",
    "directionality",
    "pooler_fc_size",
    "pooler_num_attention_heads",
    "pooler_num_fc_layers",
    "pooler_size_per_head",
    "pooler_type",
    "inner_group_num",
    "num_hidden_groups",
    "net_structure_type",
    "gap_size",
    "num_memory_blocks",
    "down_scale_factor",
    "layers_to_keep",
    "use_relative_position",
    "n_ctx",
    "summary_type",
    "summary_use_proj",
    "summary_activation",
    "summary_proj_to_labels",
    "summary_first_dropout",
    "scale_attn_weights",
    "reorder_and_upcast_attn",
    "scale_attn_by_inverse_layer_idx",
    "task_specific_params",
    "is_encoder_decoder",
    "decoder_start_token_id",
    "n_positions",
    "embd_pdrop",
    "predict_special_tokens",
    "eos_token_id",
    "bos_token_id",
    "sep_token_id",
    "max_length",
    "layer_norm_type",
    "classifier_activation",
    "tokenizer_class",
    "vocab_file",
    "hidden_dropout",
    "attention_dropout",
    "relative_attention",
    "rotary_value",
    "dense_act_fn",
    "is_gated_act",
    "remat",
    "num_decoder_layers",
    "torchscript",
    "max_relative_positions",
    "classifier_dropout_prob",
    "summary_last_dropout",
}
# Model keys whose T5 version bert4keras forces whatever the config says.
_T5_VERSION_PREFIXES = (("t5.1.1", "t5.1.1"), ("mt5.1.1", "mt5.1.1"))


def _check_unused(transformer, model, strict):
    """Warn (or, with ``strict=True``, raise) naming every option no part of the model read."""
    unused = sorted(set(transformer.extra_config) - _KNOWN_UNUSED_KEYS)
    if not unused:
        return
    message = (
        f"build_transformer_model(model={model!r}): unknown option(s) {', '.join(unused)} "
        "(not used by this model; check the spelling)"
    )
    if strict:
        raise ValueError(message)
    warnings.warn(message, stacklevel=3)


def build_transformer_model(
    config_path: str | os.PathLike | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    model: str | type = "bert",
    application: str = "encoder",
    return_keras_model: bool = True,
    strict: bool = False,
    **kwargs: Any,
) -> Any:
    """Build a model (and load its weights), bert4keras-style.

    ``config_path``: Google/bert4keras JSON or HuggingFace ``config.json`` (read from
    ``checkpoint_path`` when that is a HuggingFace directory). ``checkpoint_path``: TF1 prefix,
    ``.safetensors``, ``pytorch_model.bin`` or a HuggingFace directory. Any keyword overrides
    the config. ``application='lm'``/``'unilm'`` switch the MLM head on unless ``with_mlm`` is
    given (as bert4keras does). Options no part of the model reads are reported by a warning
    naming them (``strict=True``: a ValueError). Returns the Keras model, or the builder
    object (``.model``) when ``return_keras_model=False``.
    """
    if config_path is None and checkpoint_path is not None and os.path.isdir(checkpoint_path):
        candidate = os.path.join(checkpoint_path, "config.json")
        if os.path.isfile(candidate):
            config_path = candidate
    config = read_config(config_path) if config_path is not None else {}
    config.update(kwargs)
    config.setdefault("max_position", 512)
    application = (application or "encoder").lower()
    if isinstance(model, str):
        key = model.lower()
        for prefix, version in _T5_VERSION_PREFIXES:
            if key.startswith(prefix):
                config["version"] = version
        if application in ("lm", "unilm") and key in ("electra", "t5"):
            raise ValueError(f"model {model!r} can not be used as application {application!r}")
    model_class = with_application(get_model_class(model), application)
    try:
        transformer = model_class(**config)
    except TypeError as error:
        source = config_path or "keyword arguments"
        raise ValueError(f"cannot build {model!r} from {source}: {error}") from error
    _check_unused(transformer, model, strict)
    if checkpoint_path is None:
        transformer.build(**config)
    else:
        # No random values for the weights the checkpoint overwrites: the load gives every
        # variable its first value (see kerasformers/checkpoints/lazy_init.py).
        with deferred_initialization():
            transformer.build(**config)
        transformer.load_weights_from_checkpoint(checkpoint_path)
    return transformer.model if return_keras_model else transformer
