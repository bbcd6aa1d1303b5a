"""The KV-cached decoders reproduce the full (uncached) forward at every step.

For every decoder-capable family, a left-padded batch of prompts is prefilled and then
extended token by token through the cache; each step's logits must equal the logits of
the ordinary Keras model run on the whole unpadded sequence (1e-4).
"""

import numpy as np
import pytest
from keras import ops

from kerasformers.generation import decoder_for
from kerasformers.generation.decoders import left_pad
from kerasformers.models import build_transformer_model

TINY = dict(
    vocab_size=61,
    hidden_size=24,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=19,
    hidden_act="gelu",
    max_position=32,
)
PROMPTS = [[5, 7, 9, 11, 13], [20, 3], [8, 9, 10]]
STEPS = 4


def randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.model.weights:
        value = rng.normal(0, 0.3, size=variable.shape) + (1 if "gamma" in variable.path else 0)
        variable.assign(value.astype("float32"))
    return model


def build(key, **kwargs):
    return randomise(build_transformer_model(model=key, return_keras_model=False, **{**TINY, **kwargs}))


def full_logits(model, rows):
    """Uncached logits of the ordinary Keras model on the final sequences (B, T, V).

    Every family here is causal over the generated part, so position j of the full run
    equals the logits after j + 1 tokens; rows are right-padded (padding comes last).
    UniLM models get segment 1 on the generated tokens, other models with segments get 0.
    """
    width = max(len(r["tokens"]) for r in rows)
    ids = np.zeros((len(rows), width), dtype="int32")
    segments = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row["tokens"])] = row["tokens"]
        if model.attention_pattern == "unilm":
            segments[i, row["source"] : len(row["tokens"])] = 1
    out = model.model([ids, segments] if len(model.model.inputs) == 2 else ids)
    return ops.convert_to_numpy(out[-1] if isinstance(out, list) else out)


CASES = {
    "gpt2": lambda: build("gpt2", final_activation="linear"),
    "gpt": lambda: build("gpt", final_activation="linear", segment_vocab_size=2),
    "gpt2_ml": lambda: build("gpt2_ml", final_activation="linear"),
    "unilm": lambda: build("bert", application="unilm", with_mlm="linear"),
    "lm": lambda: build("bert", application="lm", with_mlm="linear", segment_vocab_size=0),
    # The same block code covers every family whose layers have a cached path:
    "roformer-lm": lambda: build("roformer", application="lm", with_mlm="linear", segment_vocab_size=0),
    "albert-unilm": lambda: build("albert", application="unilm", with_mlm="linear", embedding_size=16),
    "bert-pool-mlm-softmax": lambda: build(
        "bert", application="lm", with_pool=True, with_mlm=True, segment_vocab_size=0
    ),
}


@pytest.mark.parametrize("key", list(CASES))
def test_cached_steps_equal_full_forward(key):
    model = CASES[key]()
    decoder = decoder_for(model)
    ids, valid = left_pad(PROMPTS, 0)
    logits, state = decoder.prefill(ids, valid, ids.shape[1] + STEPS)
    rows = [{"tokens": list(p), "source": len(p)} for p in PROMPTS]
    rng = np.random.default_rng(1)
    cached = [ops.convert_to_numpy(logits)]
    for step in range(STEPS):
        tokens = rng.integers(1, TINY["vocab_size"], size=len(rows)).astype("int32")
        for row, token in zip(rows, tokens):
            row["tokens"].append(int(token))
        logits, state = decoder.step(state, tokens, ids.shape[1] + step)
        cached.append(ops.convert_to_numpy(logits))
    full = full_logits(model, rows)
    if key.endswith("softmax"):  # the graph ends in a softmax, the decoder returns its logits
        cached = [ops.convert_to_numpy(ops.softmax(c, axis=-1)) for c in cached]
    for step, logits in enumerate(cached):
        for r, prompt in enumerate(PROMPTS):
            np.testing.assert_allclose(
                logits[r], full[r, len(prompt) - 1 + step], atol=1e-4, err_msg=f"{key}: row {r}, step {step}"
            )


@pytest.mark.parametrize("version", ["t5.1.0", "t5.1.1"])
def test_t5_cached_decoder_equals_full_forward(version):
    act = "relu" if version == "t5.1.0" else ["gelu_new", "linear"]
    model = build(version, with_lm="linear", hidden_act=act, attention_head_size=12)
    decoder = decoder_for(model)
    sources = [[5, 7, 9, 11, 13], [20, 3]]
    ids, valid = decoder.prepare_inputs(sources, 0)
    logits, state = decoder.prefill(ids, valid, ids.shape[1] + STEPS)
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, TINY["vocab_size"], size=(2, STEPS)).astype("int32")
    cached = [ops.convert_to_numpy(logits)]
    for step in range(STEPS):
        logits, state = decoder.step(state, tokens[:, step], 1 + step)
        cached.append(ops.convert_to_numpy(logits))
    decoder_ids = np.concatenate([np.zeros((2, 1), "int32"), tokens], axis=1)  # start token first
    full = ops.convert_to_numpy(model.model([ids, decoder_ids]))  # sources right-padded: (B, S)
    for step, logits in enumerate(cached):
        np.testing.assert_allclose(logits, full[:, step], atol=1e-4, err_msg=f"{version}: step {step}")


@pytest.mark.parametrize(
    "key, kwargs, reason",
    [
        ("bert", dict(application="encoder", segment_vocab_size=0), "its attention is bidirectional"),
        ("bert", dict(application="lm", with_mlm=False), None),  # lm turns the MLM head on, as bert4keras
        ("nezha", dict(application="lm", with_mlm="linear"), r"Embedding-Relative-Position \(Relative"),
        (
            "gau_alpha",
            dict(application="lm", with_mlm="linear", attention_key_size=8),
            r"Transformer-0-GatedAttentionUnit \(Gated",
        ),
    ],
)
def test_models_without_a_cached_path_are_rejected_naming_why(key, kwargs, reason):
    model = build(key, **kwargs)
    if reason is None:
        assert decoder_for(model) is not None
        return
    with pytest.raises(ValueError, match=reason):
        decoder_for(model)


def test_t5_with_bert4keras_cross_position_bias_caches_exactly():
    """bert4keras's T5 option: the decoder's relative table also biases cross-attention (keys = context)."""
    model = build(
        "t5.1.1",
        with_lm="linear",
        hidden_act=["gelu_new", "linear"],
        attention_head_size=12,
        cross_position_bias=True,
        scale_decoder_output=True,
    )
    decoder = decoder_for(model)
    ids, valid = decoder.prepare_inputs([[5, 7, 9, 11, 13], [20, 3, 4, 6, 8]], 0)
    logits, state = decoder.prefill(ids, valid, ids.shape[1] + 2)
    token = np.array([17, 23], dtype="int32")
    step_logits, _ = decoder.step(state, token, 1)
    full = ops.convert_to_numpy(model.model([ids, np.stack([[0, 17], [0, 23]]).astype("int32")]))
    np.testing.assert_allclose(ops.convert_to_numpy(logits), full[:, 0], atol=1e-4)
    np.testing.assert_allclose(ops.convert_to_numpy(step_logits), full[:, 1], atol=1e-4)
