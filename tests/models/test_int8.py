"""int8 quantisation (kerasformers.quantization): accuracy against float32 and the .keras round trip.

A small random BERT with the tied MLM head and the pooler, weights std 0.2, so every quantised
kind of layer (attention and feed-forward Dense, Embedding lookup, Embedding as tied output
projection) shows in the outputs.
"""

import gc

import numpy as np
import pytest
from keras import ops

from kerasformers.models import build_transformer_model
from kerasformers.quantization import quantize_int8, quantized_layers, weight_bytes

CONFIG = {
    "vocab_size": 131,
    "hidden_size": 48,
    "num_hidden_layers": 1,
    "num_attention_heads": 3,
    "intermediate_size": 37,
    "hidden_act": "gelu",
}


@pytest.fixture(scope="module", autouse=True)
def no_full_collection_per_replaced_kernel():
    """Keras's Layer.__delattr__ runs a full gc.collect() for every float kernel that quantisation
    deletes (a second or more each in a whole test session); no check here depends on it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda *args: 0)
        yield


def random_bert():
    model = build_transformer_model(None, None, model="bert", with_mlm=True, with_pool=True, **CONFIG)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        gain = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign((gain + rng.normal(0.0, 0.2, variable.shape)).astype("float32"))
    token_ids = rng.integers(1, CONFIG["vocab_size"], size=(3, 12)).astype("int32")
    token_ids[2, 8:] = 0  # one padded row
    return model, [token_ids, np.zeros_like(token_ids)]


def outputs(model, inputs):
    return [ops.convert_to_numpy(o) for o in model(inputs, training=False)]


def cosine(a, b):
    a, b = a.ravel().astype("float64"), b.ravel().astype("float64")
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def quantized():
    model, inputs = random_bert()
    expected = outputs(model, inputs)
    float_bytes = weight_bytes(model)
    changed = quantize_int8(model)
    return model, inputs, expected, float_bytes, changed


def test_every_projection_and_embedding_is_int8(quantized):
    model, _, _, float_bytes, changed = quantized
    assert changed == quantized_layers(model)
    assert "Embedding-Token" in changed and "MLM-Dense" in changed and "Pooler-Dense" in changed
    for block in ("Transformer-0-MultiHeadSelfAttention/q_dense", "Transformer-0-FeedForward/o_dense"):
        assert block in changed
    assert weight_bytes(model) < 0.7 * float_bytes  # the float32 position table stays


def test_int8_outputs_match_float32(quantized):
    model, inputs, expected, _, _ = quantized
    got = outputs(model, inputs)
    assert [g.shape for g in got] == [e.shape for e in expected]  # pooled (3, 48), MLM probs (3, 12, 131)
    for name, e, g in zip(("pooler", "mlm"), expected, got):
        assert cosine(e, g) >= 0.99, name
    # The quantised model is not the float one: some difference must be there.
    assert np.max(np.abs(got[1] - expected[1])) > 0


def test_save_and_load_keeps_int8(quantized, tmp_path):
    import keras

    model, inputs, _, _, changed = quantized
    path = tmp_path / "int8.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert quantized_layers(loaded) == changed
    for before, after in zip(outputs(model, inputs), outputs(loaded, inputs)):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_unbuilt_model_is_refused():
    import keras

    with pytest.raises(ValueError, match="build the model"):
        quantize_int8(keras.Sequential([keras.layers.Dense(3)]))


def test_convert_to_int8_keras_model(tmp_path):
    import keras
    from typer.testing import CliRunner

    from kerasformers.cli import app
    from kerasformers.conversion import convert

    source = build_transformer_model(None, None, model="bert", return_keras_model=False, **CONFIG)
    source.save_weights_as_huggingface(str(tmp_path / "hf"))
    report = convert(
        str(tmp_path / "hf"), str(tmp_path / "int8"), to="keras", dtype="int8", log=lambda _: None
    )
    assert report["dtype"] == "int8" and report["max_difference"] < 0.08
    loaded = keras.saving.load_model(tmp_path / "int8" / "model.keras")
    assert "Transformer-0-FeedForward/i0_dense" in quantized_layers(loaded)

    result = CliRunner().invoke(
        app, ["convert", str(tmp_path / "hf"), str(tmp_path / "bad"), "--dtype", "int8"]
    )
    assert result.exit_code == 1 and "--dtype int8 needs --to keras" in result.output
    assert not (tmp_path / "bad").exists()


def test_torch_int8_product_matches_keras_own_path(monkeypatch):
    """On PyTorch's CPU, inference takes torch._int_mm (oneDNN's int8 kernels) instead of Keras's
    int32-cast matmul; it must give Keras's numbers, and training must keep Keras's path."""
    import keras

    if keras.backend.backend() != "torch":
        pytest.skip("the fast int8 product is PyTorch-only")
    import torch

    from kerasformers.layers.dense import Dense

    layer = Dense(29, activation="gelu")
    layer.build((None, 48))
    rng = np.random.default_rng(1)
    layer.set_weights(
        [rng.normal(0, 0.3, (48, 29)).astype("float32"), rng.normal(0, 0.3, 29).astype("float32")]
    )
    layer.quantize("int8")
    inputs = torch.from_numpy(rng.normal(0, 1.5, (3, 5, 48)).astype("float32"))
    calls = []
    int_mm = torch._int_mm
    monkeypatch.setattr(torch, "_int_mm", lambda *args: calls.append(1) or int_mm(*args))

    reference = layer(inputs.clone().requires_grad_(True))  # Keras's path: a gradient is asked for
    assert not calls
    with torch.no_grad():
        fast = layer(inputs)
    assert calls == [1]
    np.testing.assert_allclose(fast.numpy(), reference.detach().numpy(), rtol=1e-5, atol=1e-5)
