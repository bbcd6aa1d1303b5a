"""`build_transformer_model`: one call from a config (+ checkpoint) to a Keras model."""
import json
import os

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
_HF_ONLY_KEYS = {"architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
                 "position_embedding_type", "use_cache", "classifier_dropout", "gradient_checkpointing",
                 "initializer_range", "chunk_size_feed_forward", "is_decoder", "add_cross_attention",
                 "tie_word_embeddings", "output_past", "directionality", "pooler_fc_size",
                 "pooler_num_attention_heads", "pooler_num_fc_layers", "pooler_size_per_head",
                 "pooler_type", "bos_token_id", "eos_token_id", "id2label", "label2id",
                 "problem_type", "return_dict", "output_hidden_states", "output_attentions"}


def read_config(config_path):
    """Read a Google/bert4keras ``bert_config.json`` or a HuggingFace ``config.json``."""
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"config file not found: {config_path}")
    with open(config_path, encoding="utf-8") as handle:
        try:
            raw = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"config {config_path} is not valid JSON: {error}") from error
    return normalize_config(raw)


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
        config.pop(key, None)
    return config


def build_transformer_model(config_path=None, checkpoint_path=None, model="bert", application="encoder",
                            return_keras_model=True, **kwargs):
    """Build a model (and load its weights), bert4keras-style.

    ``config_path``: Google/bert4keras JSON or HuggingFace ``config.json`` (read from
    ``checkpoint_path`` when that is a HuggingFace directory). ``checkpoint_path``: TF1 prefix,
    ``.safetensors``, ``pytorch_model.bin`` or a HuggingFace directory. Any keyword overrides
    the config. Returns the Keras model, or the builder object (``.model``) when
    ``return_keras_model=False``.
    """
    if config_path is None and checkpoint_path is not None and os.path.isdir(checkpoint_path):
        candidate = os.path.join(checkpoint_path, "config.json")
        if os.path.isfile(candidate):
            config_path = candidate
    config = read_config(config_path) if config_path is not None else {}
    config.update(kwargs)
    config.setdefault("max_position", 512)
    model_class = with_application(get_model_class(model), application)
    try:
        transformer = model_class(**config)
    except TypeError as error:
        source = config_path or "keyword arguments"
        raise ValueError(f"cannot build {model!r} from {source}: {error}") from error
    transformer.build(**config)
    if checkpoint_path is not None:
        transformer.load_weights_from_checkpoint(checkpoint_path)
    return transformer.model if return_keras_model else transformer
