"""`lm` / `unilm` applications on every encoder family: causality proven by perturbation."""

import keras
import numpy as np
import pytest

from kerasformers.models import build_transformer_model

from .helpers import to_numpy

SMALL = dict(
    vocab_size=50,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=20,
    max_position=24,
    segment_vocab_size=2,
    hidden_act="gelu",
)
FAMILIES = {
    "albert": dict(embedding_size=8),
    "albert_unshared": dict(embedding_size=8),
    "electra": {},
    "nezha": dict(max_relative_position=3),
    "roformer": {},
    "roformer_v2": {},
    "gau_alpha": dict(attention_key_size=8, hidden_act="swish"),
}
N = 9
LM_FAMILIES = [family for family in FAMILIES if family != "electra"]  # bert4keras refuses lm/unilm ELECTRA


def build(family, application, seed=0):
    """A random model with weights large enough that every dependency shows in the outputs.

    lm / unilm switch the MLM head on (as in bert4keras); it outputs logits here, since
    saturated probabilities would hide dependencies, and `custom` gets the same head.
    """
    heads = {"with_mlm": "linear"} if application != "encoder" and family != "electra" else {}
    model = build_transformer_model(
        model=family, application=application, **{**SMALL, **FAMILIES[family], **heads}
    )
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(size=variable.shape, scale=0.3).astype("float32"))
    return model


def run(model, token_ids, segment_ids):
    return to_numpy(model([token_ids, segment_ids]))


@pytest.mark.parametrize("family", LM_FAMILIES)
def test_lm_outputs_ignore_future_tokens(family):
    model = build(family, "lm")
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, SMALL["vocab_size"], size=(1, N)).astype("int32")
    segments = np.zeros_like(tokens)
    base = run(model, tokens, segments)
    i = 4
    changed = tokens.copy()
    changed[0, i + 1 :] = rng.integers(1, SMALL["vocab_size"], size=N - i - 1)
    out = run(model, changed, segments)
    np.testing.assert_allclose(
        out[0, : i + 1], base[0, : i + 1], atol=1e-5, err_msg=f"{family}: position ≤ {i}"
    )
    assert np.abs(out[0, i + 1 :] - base[0, i + 1 :]).max() > 1e-4, "later positions must see the change"


@pytest.mark.parametrize("family", LM_FAMILIES)
def test_unilm_targets_ignore_later_targets_but_see_the_whole_source(family):
    model = build(family, "unilm")
    rng = np.random.default_rng(1)
    source = 4
    tokens = rng.integers(1, SMALL["vocab_size"], size=(1, N)).astype("int32")
    segments = np.array([[0] * source + [1] * (N - source)], dtype="int32")
    base = run(model, tokens, segments)
    i = source + 1  # a target position
    changed = tokens.copy()
    changed[0, i + 1 :] = rng.integers(1, SMALL["vocab_size"], size=N - i - 1)
    out = run(model, changed, segments)
    np.testing.assert_allclose(
        out[0, : i + 1], base[0, : i + 1], atol=1e-5, err_msg=f"{family}: target ≤ {i}"
    )
    # the last source token is seen by the first source token (bidirectional source)
    changed = tokens.copy()
    changed[0, source - 1] = tokens[0, source - 1] % (SMALL["vocab_size"] - 1) + 1
    out = run(model, changed, segments)
    assert np.abs(out[0, 0] - base[0, 0]).max() > 1e-4, "source positions must see the whole source"


@pytest.mark.parametrize("family", ["albert", "roformer", "gau_alpha"])  # the mixin is family-agnostic
def test_custom_bias_input_as_prefix_lm_equals_unilm(family):
    """application='custom' with a prefix-LM bias is exactly UniLM with the prefix as segment 0."""
    source = 4
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, SMALL["vocab_size"], size=(2, N)).astype("int32")
    tokens[1, -2:] = 0  # padding still applies on top of the custom bias
    segments = np.array([[0] * source + [1] * (N - source)] * 2, dtype="int32")
    allowed = (np.arange(N)[None, :] < source) | (np.arange(N)[None, :] <= np.arange(N)[:, None])
    bias = np.broadcast_to(np.where(allowed, 0.0, -1e9), (2, N, N)).astype("float32")
    custom = to_numpy(build(family, "custom")([tokens, segments, bias]))
    unilm = run(build(family, "unilm"), tokens, segments)
    real = tokens != 0
    np.testing.assert_allclose(custom[real], unilm[real], atol=1e-5)


def gradients(model, inputs):
    """d(sum of squared outputs)/d(trainable weights), with each backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(trainable):
            out, _ = model.stateless_call(trainable, [v.value for v in model.non_trainable_variables], inputs)
            return (out**2).sum()

        return [np.asarray(g) for g in jax.jit(jax.grad(loss))([v.value for v in model.trainable_variables])]
    if backend == "torch":
        for v in model.trainable_variables:
            v.value.grad = None
        (model(inputs) ** 2).sum().backward()
        return [v.value.grad.numpy() for v in model.trainable_variables]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(inputs) ** 2)
    return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("family", ["roformer", "gau_alpha"])
def test_remat_gives_the_same_gradients(family):
    rng = np.random.default_rng(3)
    inputs = [rng.integers(1, SMALL["vocab_size"], size=(2, N)).astype("int32"), np.zeros((2, N), "int32")]
    config = {**SMALL, **FAMILIES[family], "num_hidden_layers": 1}  # remat is per layer: one is enough
    plain = build_transformer_model(model=family, **config)
    for v in plain.weights:
        v.assign(rng.normal(size=v.shape, scale=0.3).astype("float32"))
    remat = build_transformer_model(model=family, remat=True, **config)
    remat.set_weights(plain.get_weights())
    main = [layer for layer in remat.layers if layer.name.startswith("Transformer-")]
    assert main and all(layer._remat_mode is not None for layer in main), "main layers must rematerialise"
    assert all(not layer._remat_mode for layer in plain.layers)
    for g_remat, g_plain in zip(gradients(remat, inputs), gradients(plain, inputs)):
        # recomputation may reorder float sums: compare relative to the gradient's own scale
        np.testing.assert_allclose(g_remat, g_plain, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(g_plain).max()))


@pytest.mark.parametrize("family", ["albert", "roformer_v2"])
def test_conditional_layer_norm(family):
    """layer_norm_cond: unchanged outputs while the condition projections are zero, then conditioned."""
    cond = keras.Input((3,), name="Input-Condition")
    model = build_transformer_model(
        model=family,
        layer_norm_cond=cond,
        layer_norm_cond_hidden_size=5,
        additional_input_layers=cond,
        return_keras_model=False,
        **{**SMALL, **FAMILIES[family]},
    )
    plain = build(family, "encoder")
    names = [w.path for w in plain.weights]
    by_name = dict(zip(names, plain.get_weights()))
    for w in model.model.weights:  # copy the shared weights; the condition projections stay at init
        if w.path in by_name:
            w.assign(by_name[w.path])
    rng = np.random.default_rng(4)
    tokens = rng.integers(1, SMALL["vocab_size"], size=(2, N)).astype("int32")
    segments = np.zeros_like(tokens)
    conditions = rng.normal(size=(2, 3)).astype("float32")
    base = run(plain, tokens, segments)
    np.testing.assert_allclose(to_numpy(model.model([tokens, segments, conditions])), base, atol=1e-5)
    norms = [layer for layer in model.layers.values() if getattr(layer, "conditional", False)]
    assert norms, "the norms must be conditional"
    for layer in norms:
        for dense in (layer.gamma_dense, layer.beta_dense):
            dense.kernel.assign(rng.normal(size=dense.kernel.shape, scale=0.3).astype("float32"))
    out = to_numpy(model.model([tokens, segments, conditions]))
    assert np.abs(out - base).max() > 1e-3, "a trained condition must change the outputs"


@pytest.mark.parametrize(
    "family", ["albert", "nezha", "roformer_v2"]
)  # BERT-, Positional- and bias-free attention
def test_residual_attention_scores(family):
    """RealFormer: layer 0 has no previous scores (same output); later layers add them (different)."""
    rng = np.random.default_rng(5)
    tokens = rng.integers(1, SMALL["vocab_size"], size=(1, N)).astype("int32")
    inputs = [tokens, np.zeros_like(tokens)]
    outs = []
    for layers in (1, 2):
        config = {**SMALL, **FAMILIES[family], "num_hidden_layers": layers}
        plain = build_transformer_model(model=family, **config)
        for v in plain.weights:  # peaked attention, so that carrying scores over is visible
            scale = 1.0 if "MultiHead" in v.path else 0.3
            v.assign(rng.normal(size=v.shape, scale=scale).astype("float32"))
        real = build_transformer_model(model=family, residual_attention_scores=True, **config)
        real.set_weights(plain.get_weights())
        outs.append((to_numpy(plain(inputs)), to_numpy(real(inputs))))
    np.testing.assert_allclose(outs[0][1], outs[0][0], atol=1e-5)
    assert np.abs(outs[1][1] - outs[1][0]).max() > 1e-3  # vs ~1e-6 float noise
