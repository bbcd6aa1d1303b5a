"""HuggingFace T5 / mT5 names ↔ Google's original T5 names (mesh-tensorflow layout).

torch `nn.Linear` weights are (out, in) and TF kernels (in, out); HF's relative position
table is (buckets, heads) while the original stores (heads, buckets): all transposed.
v1.1 / mT5 use a gated FFN (`wi_0`, `wi_1`) and an untied head (`decoder/logits/kernel`).
Original mT5 checkpoints call their norms `rms_norm` (bert4keras version 'mt5.1.1').
"""

from . import transpose


def _layer_entries(side, i, gated, norm):
    """(TF1 name, HF name) pairs of one encoder/decoder block."""
    tf1, hf = f"{side}/block_{i:03d}/", f"{side}.block.{i}."
    pairs = []
    attentions = [("layer_000", "layer.0", "SelfAttention")]
    if side == "decoder":
        attentions.append(("layer_001", "layer.1", "EncDecAttention"))
    for tf1_layer, hf_layer, kind in attentions:
        for w in "qkvo":
            pairs.append((f"{tf1}{tf1_layer}/{kind}/{w}", f"{hf}{hf_layer}.{kind}.{w}.weight"))
        pairs.append((f"{tf1}{tf1_layer}/{norm}/scale", f"{hf}{hf_layer}.layer_norm.weight"))
    tf1_ffn, hf_ffn = ("layer_002", "layer.2") if side == "decoder" else ("layer_001", "layer.1")
    for w in (("wi_0", "wi_1") if gated else ("wi",)) + ("wo",):
        pairs.append((f"{tf1}{tf1_ffn}/DenseReluDense/{w}/kernel", f"{hf}{hf_ffn}.DenseReluDense.{w}.weight"))
    pairs.append((f"{tf1}{tf1_ffn}/{norm}/scale", f"{hf}{hf_ffn}.layer_norm.weight"))
    return pairs


def name_pairs(num_layers, gated, mt5=False):
    """Every (TF1, HF) pair of a T5 with `num_layers` blocks per side."""
    norm = "rms_norm" if mt5 else "layer_norm"
    final = "rms_norm" if mt5 else "final_layer_norm"
    pairs = [("shared/embedding", "shared.weight")]
    for side in ("encoder", "decoder"):
        pairs.append(
            (
                f"{side}/block_000/layer_000/SelfAttention/relative_attention_bias",
                f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            )
        )
        for i in range(num_layers):
            pairs.extend(_layer_entries(side, i, gated, norm))
        pairs.append((f"{side}/{final}/scale", f"{side}.final_layer_norm.weight"))
    pairs.append(("decoder/logits/kernel", "lm_head.weight"))
    return pairs


def _transform(tf1):
    return None if tf1.endswith("/scale") or tf1 == "shared/embedding" else transpose


def _version(model):
    version = getattr(model, "version", "t5.1.0")
    return version != "t5.1.0", version == "mt5.1.1"


def hf_to_tf1(hf_keys, model):
    keys = set(hf_keys)
    if "shared.weight" not in keys and "encoder.embed_tokens.weight" not in keys:
        from ..errors import CheckpointError

        raise CheckpointError("not a T5 checkpoint: no 'shared.weight'")
    gated, mt5 = _version(model)
    table = {}
    for tf1, hf in name_pairs(model.num_hidden_layers, gated, mt5):
        if hf == "shared.weight" and hf not in keys:
            hf = "encoder.embed_tokens.weight"  # some exports keep only the tied copies
        table[tf1] = (hf, _transform(tf1))
    return {tf1: entry for tf1, entry in table.items() if entry[0] in keys}


def tf1_to_hf(tf1_names, model):
    """HF `T5ForConditionalGeneration` names for an export."""
    gated, mt5 = _version(model)
    names = set(tf1_names)
    return {
        hf: (tf1, _transform(tf1))
        for tf1, hf in name_pairs(model.num_hidden_layers, gated, mt5)
        if tf1 in names
    }


def hf_config(model, hf_tensors):
    bert4keras_decoder = model.cross_position_bias or (model.scale_decoder_output and not model.tied_head)
    if model.has_decoder and bert4keras_decoder:
        head = "tied" if model.tied_head else "untied"
        raise ValueError(
            f"this T5 has bert4keras's decoder (cross_position_bias={model.cross_position_bias}, "
            f"scale_decoder_output={model.scale_decoder_output}, {head} head), which transformers' T5 cannot "
            "express; build it with cross_position_bias=False, scale_decoder_output=False to export it as a "
            "HuggingFace folder"
        )
    gated = model.version != "t5.1.0"
    act = model.hidden_act if isinstance(model.hidden_act, str) else model.hidden_act[0]
    act = {"gelu_new": "gelu", "gelu_tanh": "gelu"}.get(act, act)
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "vocab_size": model.vocab_size,
        "d_model": model.hidden_size,
        "d_kv": model.attention_head_size,
        "d_ff": model.intermediate_size,
        "num_layers": model.num_hidden_layers,
        "num_heads": model.num_attention_heads,
        "relative_attention_num_buckets": model.num_buckets,
        "relative_attention_max_distance": model.max_distance,
        "dropout_rate": model.dropout_rate,
        "layer_norm_epsilon": model.layer_norm_eps,
        "feed_forward_proj": f"gated-{act}" if gated else act,
        "tie_word_embeddings": not gated,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "is_encoder_decoder": True,
    }
