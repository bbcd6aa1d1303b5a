"""Record bert4keras 0.11.5's own answers as test fixtures (run with the bert4keras venv, see README.md).

For every case: build a tiny random model with bert4keras, redraw every weight at a large scale
(std 0.3, LayerNorm gains 1 +- 0.3) so that attention is far from uniform, save it with bert4keras's
`save_weights_as_checkpoint`, feed random inputs and keep every output in order. keep_tokens /
compound_tokens cases are rebuilt the way a user would (`build_transformer_model(config_path,
checkpoint_path, keep_tokens=...)`) from the full-vocabulary checkpoint. The manifest
(`manifest.json`) describes each case; `test_oracle_parity.py` replays it with kerasformers.

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 /work/.venv-bert4keras/bin/python tests/bert4keras/make_fixtures.py
"""

import json
import os
import shutil
import sys

import numpy as np

os.environ.setdefault("TF_KERAS", "1")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
from bert4keras.backend import K, keras
from bert4keras.models import build_transformer_model

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "bert4keras")
BATCH, LENGTH, CONDITION_DIM = 2, 10, 6

BERT = {
    "vocab_size": 40,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "hidden_act": "gelu",
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
ALBERT = {**BERT, "embedding_size": 8}
NEZHA = {**BERT, "max_relative_position": 64}
GPT = {**BERT, "hidden_act": "gelu"}
T5 = {
    "vocab_size": 40,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "attention_head_size": 8,
    "intermediate_size": 32,
    "hidden_act": "relu",
    "dropout_rate": 0.1,
}
T5_11 = {**T5, "hidden_act": ["gelu", "linear"]}

# (case id, model key, application, config, build kwargs, notes for the test)
CASES = [
    ("bert", "bert", "encoder", BERT, {}),
    ("bert_pool", "bert", "encoder", BERT, {"with_pool": True}),
    ("bert_pool_relu", "bert", "encoder", BERT, {"with_pool": "relu"}),
    ("bert_nsp", "bert", "encoder", BERT, {"with_nsp": True}),
    ("bert_pool_nsp", "bert", "encoder", BERT, {"with_pool": True, "with_nsp": True}),
    ("bert_mlm", "bert", "encoder", BERT, {"with_mlm": True}),
    ("bert_mlm_linear", "bert", "encoder", BERT, {"with_mlm": "linear"}),
    ("bert_mlm_sigmoid", "bert", "encoder", BERT, {"with_mlm": "sigmoid"}),
    ("bert_pool_mlm", "bert", "encoder", BERT, {"with_pool": True, "with_mlm": True}),
    ("bert_pool_nsp_mlm", "bert", "encoder", BERT, {"with_pool": True, "with_nsp": True, "with_mlm": True}),
    ("bert_nsp_mlm", "bert", "encoder", BERT, {"with_nsp": True, "with_mlm": "linear"}),
    ("bert_lm", "bert", "lm", BERT, {}),
    ("bert_lm_linear", "bert", "lm", BERT, {"with_mlm": "linear"}),
    ("bert_lm_pool", "bert", "lm", BERT, {"with_pool": True}),
    ("bert_unilm", "bert", "unilm", BERT, {}),
    ("bert_unilm_pool_nsp", "bert", "unilm", BERT, {"with_pool": True, "with_nsp": True}),
    ("bert_no_segment", "bert", "encoder", BERT, {"segment_vocab_size": 0}),
    ("roberta", "roberta", "encoder", BERT, {"with_mlm": True}),
    (
        "bert_keep_tokens",
        "bert",
        "encoder",
        BERT,
        {"with_mlm": True, "keep_tokens": [0, 5, 3, 7, 1, 9, 2, 11, 30, 21, 4, 6]},
    ),
    (
        "bert_compound_tokens",
        "bert",
        "encoder",
        BERT,
        {"with_mlm": True, "compound_tokens": [[3, 4], [5, 6, 7]]},
    ),
    ("bert_custom_position_ids", "bert", "encoder", BERT, {"custom_position_ids": True}),
    (
        "bert_hierarchical",
        "bert",
        "encoder",
        {**BERT, "max_position_embeddings": 4},
        {"hierarchical_position": True},
    ),
    (
        "bert_hierarchical_alpha",
        "bert",
        "encoder",
        {**BERT, "max_position_embeddings": 4},
        {"hierarchical_position": 0.25, "with_mlm": True},
    ),
    (
        "bert_layer_norm_cond",
        "bert",
        "encoder",
        BERT,
        {
            "with_mlm": True,
            "layer_norm_cond": "input",
            "layer_norm_cond_hidden_size": 12,
            "layer_norm_cond_hidden_act": "tanh",
        },
    ),
    ("bert_layer_norm_cond_plain", "bert", "unilm", BERT, {"layer_norm_cond": "input"}),
    ("bert_residual_scores", "bert", "encoder", BERT, {"residual_attention_scores": True}),
    ("bert_prefix", "bert", "encoder", BERT, {"prefix": "Student-", "with_pool": True}),
    ("bert_embedding_mapping", "bert", "encoder", {**BERT, "embedding_size": 8}, {"with_mlm": True}),
    ("bert_relu", "bert", "encoder", {**BERT, "hidden_act": "relu"}, {"with_mlm": True}),
    ("albert", "albert", "encoder", ALBERT, {}),
    ("albert_pool_mlm", "albert", "encoder", ALBERT, {"with_pool": True, "with_mlm": True}),
    ("albert_unilm", "albert", "unilm", ALBERT, {}),
    ("albert_unshared", "albert_unshared", "encoder", ALBERT, {"with_mlm": True}),
    ("nezha", "nezha", "encoder", NEZHA, {}),
    ("nezha_rel8", "nezha", "encoder", {**NEZHA, "max_relative_position": 8}, {}),
    ("nezha_unilm", "nezha", "unilm", NEZHA, {}),
    ("nezha_lm", "nezha", "lm", NEZHA, {}),
    (
        "nezha_pool_nsp_mlm",
        "nezha",
        "encoder",
        NEZHA,
        {"with_pool": True, "with_nsp": True, "with_mlm": True},
    ),
    ("roformer", "roformer", "encoder", BERT, {}),
    ("roformer_unilm", "roformer", "unilm", BERT, {}),
    ("roformer_pool_mlm", "roformer", "encoder", BERT, {"with_pool": True, "with_mlm": True}),
    ("roformer_residual_scores", "roformer", "encoder", BERT, {"residual_attention_scores": True}),
    ("roformer_v2", "roformer_v2", "encoder", BERT, {}),
    ("roformer_v2_mlm", "roformer_v2", "encoder", BERT, {"with_mlm": True}),
    ("roformer_v2_lm", "roformer_v2", "lm", BERT, {}),
    ("roformer_v2_unilm", "roformer_v2", "unilm", BERT, {"with_mlm": "linear"}),
    ("electra", "electra", "encoder", {**BERT, "embedding_size": 8}, {}),
    ("electra_discriminator", "electra", "encoder", BERT, {"with_discriminator": True}),
    ("electra_discriminator_linear", "electra", "encoder", BERT, {"with_discriminator": "linear"}),
    ("gpt", "gpt", "encoder", GPT, {}),
    ("gpt_no_segment", "gpt", "encoder", GPT, {"segment_vocab_size": 0}),
    (
        "gpt_linear",
        "gpt",
        "encoder",
        GPT,
        {"final_activation": "linear"},
    ),  # (bert4keras: no 'lm' on top of GPT)
    ("gpt2", "gpt2", "encoder", GPT, {}),
    ("gpt2_ml", "gpt2_ml", "encoder", GPT, {}),
    ("t5", "t5", "encoder", T5, {}),
    ("t5.1.0", "t5.1.0", "encoder", T5, {"with_lm": "linear"}),
    ("t5_encoder", "t5_encoder", "encoder", T5, {}),
    ("t5_decoder", "t5_decoder", "encoder", T5, {}),
    ("t5.1.0_encoder", "t5.1.0_encoder", "encoder", T5, {}),
    ("t5.1.0_decoder", "t5.1.0_decoder", "encoder", T5, {"with_lm": False}),
    ("t5.1.1", "t5.1.1", "encoder", T5_11, {}),
    ("t5.1.1_linear", "t5.1.1", "encoder", T5_11, {"with_lm": "linear"}),
    ("t5.1.1_encoder", "t5.1.1_encoder", "encoder", T5_11, {}),
    ("t5.1.1_decoder", "t5.1.1_decoder", "encoder", T5_11, {}),
    ("mt5.1.1", "mt5.1.1", "encoder", T5_11, {}),
    ("mt5.1.1_encoder", "mt5.1.1_encoder", "encoder", T5_11, {}),
    ("mt5.1.1_decoder", "mt5.1.1_decoder", "encoder", T5_11, {"with_lm": "linear"}),
    ("t5_encoder_residual_scores", "t5_encoder", "encoder", T5, {"residual_attention_scores": True}),
]


# Cases where kerasformers deliberately differs (docs/migration.md): the test builds them with the extra
# `kerasformers_kwargs` given, or compares only what is meant to agree.
T5_DECODER_DIFFERENCE = {
    "compare_only_real_decoder_positions": True,
    "reason": "bert4keras hides decoder token id 0 as padding, which is T5's decoder start id; kerasformers "
    "does not, so outputs at decoder positions holding 0 are not compared. (bert4keras's cross-attention "
    "position bias and d_model**-0.5 decoder scale are kerasformers's defaults for a Google/bert4keras "
    "config, so the case is built without extra options.)",
}
DIFFERENCES = {
    case[0]: T5_DECODER_DIFFERENCE for case in CASES if "t5" in case[1] and not case[1].endswith("_encoder")
}
DIFFERENCES["nezha_rel8"] = {
    "kerasformers_kwargs": {"max_relative_position": 64},
    "reason": "bert4keras's NEZHA always clips relative positions at 64 and ignores the config's "
    "max_relative_position; kerasformers reads it (Huawei's and transformers' NEZHA do)",
}


def redraw_weights(model, rng):
    """Every trainable weight at std 0.3; LayerNorm gains (and T5 RMS scales) at 1 +- 0.3.

    Frozen tables (NEZHA's sinusoidal relative positions) keep their fixed values.
    """
    values = []
    for weight in model.trainable_weights:
        shape = K.int_shape(weight)
        name = weight.name
        noise = rng.normal(0.0, 0.3, shape).astype("float32")
        is_gain = ("gamma" in name and "dense" not in name) or (name.endswith("Norm/gamma:0"))
        values.append(noise + 1.0 if is_gain else noise)
    K.batch_set_value(list(zip(model.trainable_weights, values)))


def make_input(name, config, rng, kwargs):
    """Random inputs by bert4keras's input-layer names; row 1 is padded (token id 0) at the end."""
    length = 12 if kwargs.get("hierarchical_position") else LENGTH
    vocab = len(kwargs["keep_tokens"]) if "keep_tokens" in kwargs else config["vocab_size"]
    vocab += len(kwargs.get("compound_tokens", []))
    if name.endswith("Token"):
        ids = rng.integers(1, vocab, (BATCH, length))
        ids[1, -3:] = 0
        return ids.astype("int32")
    if name.endswith("Segment"):
        segments = np.zeros((BATCH, length), "int32")
        segments[0, 4:], segments[1, 6:] = 1, 1
        return segments
    if name.endswith("Position"):
        return rng.integers(0, config["max_position_embeddings"], (BATCH, length)).astype("int32")
    if name.endswith("Context"):
        return rng.normal(0, 1, (BATCH, 7, config["hidden_size"])).astype("float32")
    if name.endswith("Condition"):
        return rng.normal(0, 1, (BATCH, CONDITION_DIM)).astype("float32")
    raise ValueError(f"no input recipe for {name}")


def build(model, application, config_path, checkpoint_path, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("layer_norm_cond") == "input":
        condition = keras.layers.Input(shape=(CONDITION_DIM,), name="Input-Condition")
        kwargs.update(layer_norm_cond=condition, additional_input_layers=condition)
    return build_transformer_model(
        config_path, checkpoint_path, model=model, application=application, return_keras_model=False, **kwargs
    )


CONDITIONAL_PROJECTIONS = ("hidden_dense", "beta_dense", "gamma_dense")


def conditional_norm_weights(transformer):
    """The conditional-LayerNorm projections, which no checkpoint holds: {layer: {projection: kernel}}."""
    extras = {}
    for name, layer in transformer.layers.items():
        if getattr(layer, "conditional", False):
            for projection in CONDITIONAL_PROJECTIONS:
                if hasattr(layer, projection):
                    extras.setdefault(name, {})[projection] = K.get_value(getattr(layer, projection).kernel)
    return extras


def record(case, rng):
    case_id, model, application, config, kwargs = case
    directory = os.path.join(OUT, case_id)
    os.makedirs(directory)
    config_path = os.path.join(directory, "config.json")
    with open(config_path, "w") as handle:
        json.dump(config, handle, indent=1)
    checkpoint_path = os.path.join(directory, "model.ckpt")
    saver_kwargs = {k: v for k, v in kwargs.items() if k not in ("keep_tokens", "compound_tokens")}
    K.clear_session()
    saver = build(model, application, config_path, None, saver_kwargs)
    redraw_weights(saver.model, rng)
    extras = conditional_norm_weights(saver)
    saver.save_weights_as_checkpoint(checkpoint_path)
    transformer = saver
    # keep_tokens / compound_tokens: what a user gets loading the full checkpoint; albert_unshared: the
    # checkpoint holds one block, so the outputs are those of every layer loaded from it
    if saver_kwargs != kwargs or model == "albert_unshared":
        K.clear_session()
        transformer = build(model, application, config_path, checkpoint_path, kwargs)
    keras_model = transformer.model
    input_names = [tensor.name.split(":")[0] for tensor in keras_model.inputs]
    inputs = [make_input(name, config, rng, kwargs) for name in input_names]
    outputs = keras_model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    arrays = {f"input_{i}": value for i, value in enumerate(inputs)}
    arrays.update({f"output_{i}": np.asarray(value, "float32") for i, value in enumerate(outputs)})
    for layer_name, weights in extras.items():
        for short, value in weights.items():
            arrays[f"extra::{layer_name}::{short}"] = value
    np.savez_compressed(os.path.join(directory, "arrays.npz"), **arrays)
    # bert4keras's Saver writes an absolute path into the 'checkpoint' file; nothing needs it.
    os.remove(os.path.join(directory, "checkpoint"))
    for suffix in (".meta",):
        if os.path.exists(checkpoint_path + suffix):
            os.remove(checkpoint_path + suffix)
    return {
        "id": case_id,
        "model": model,
        "application": application,
        "kwargs": kwargs,
        "input_names": input_names,
        "output_shapes": [list(np.shape(o)) for o in outputs],
        "output_names": [t.name.split(":")[0] for t in keras_model.outputs],
    }


def write_manifest():
    """manifest.json from every recorded case (each case directory keeps its own case.json)."""
    entries = []
    for case in CASES:
        path = os.path.join(OUT, case[0], "case.json")
        if os.path.exists(path):
            with open(path) as handle:
                entries.append({**json.load(handle), **DIFFERENCES.get(case[0], {})})
    with open(os.path.join(OUT, "manifest.json"), "w") as handle:
        json.dump({"bert4keras": "0.11.5", "cases": entries}, handle, indent=1)
    return len(entries)


def main(arguments):
    """No arguments: regenerate everything. Case ids: only those. --missing: cases not recorded yet."""
    if not arguments and os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT, exist_ok=True)
    for index, case in enumerate(CASES):
        recorded = os.path.exists(os.path.join(OUT, case[0], "case.json"))
        if arguments and case[0] not in arguments and not ("--missing" in arguments and not recorded):
            continue
        shutil.rmtree(os.path.join(OUT, case[0]), ignore_errors=True)
        entry = record(case, np.random.default_rng(index))
        with open(os.path.join(OUT, case[0], "case.json"), "w") as handle:
            json.dump(entry, handle, indent=1)
        print(f"{case[0]}: inputs {entry['input_names']} outputs {entry['output_shapes']}", flush=True)
    print(f"manifest: {write_manifest()} cases")


if __name__ == "__main__":
    main(sys.argv[1:])
