"""integrated_gradients: exact on a linear model, complete on a tiny BERT, on every backend."""

import keras
import numpy as np
import pytest

from kerasformers.models import build_transformer_model
from kerasformers.training import integrated_gradients

VOCAB, DIM, T = 12, 4, 5


def _linear_model():
    """ids → Embedding-Token → flatten → Dense logits: ∂logit/∂h is the kernel, IG = h · kernel."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, DIM, name="Embedding-Token")(inputs)
    logits = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    return keras.Model(inputs, logits)


def _tiny_bert():
    keras.utils.set_random_seed(1)
    bert = build_transformer_model(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=24,
        hidden_act="gelu",
        max_position_embeddings=16,
        type_vocab_size=2,
        return_keras_model=False,
    )
    pooled = keras.layers.GlobalAveragePooling1D()(bert.model.output)
    model = keras.Model(bert.model.inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    embeddings = model.get_layer("Embedding-Token").embeddings  # large rows: a curved path
    embeddings.assign(np.random.default_rng(0).normal(0, 1, embeddings.shape).astype("float32"))
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 30, size=(5, 7))
    ids[3:, 5:] = 0  # padding
    return model, [ids, np.zeros_like(ids)]


def test_linear_model_attributions_are_exact():
    model = _linear_model()
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(4, T))
    labels = np.array([0, 2, 1, 2])
    got, explained = integrated_gradients(model, ids, labels=labels, steps=3)
    np.testing.assert_array_equal(explained, labels)
    table = keras.ops.convert_to_numpy(model.get_layer("Embedding-Token").embeddings)
    kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel).reshape(T, DIM, 3)
    expected = table[ids] * np.moveaxis(kernel[..., labels], -1, 0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_completeness_and_chunking_on_tiny_bert():
    model, inputs = _tiny_bert()
    got, labels = integrated_gradients(model, inputs, steps=64)
    assert got.shape == (5, 7, 16)
    probs = model.predict(inputs, verbose=0)
    np.testing.assert_array_equal(labels, probs.argmax(-1))
    embeddings = model.get_layer("Embedding-Token").embeddings
    kept = keras.ops.convert_to_numpy(embeddings)
    embeddings.assign(np.zeros_like(kept))  # the baseline: every token embedding zero
    baseline = model.predict(inputs, verbose=0)
    embeddings.assign(kept)
    rows = np.arange(5)
    change = probs[rows, labels] - baseline[rows, labels]
    assert np.abs(change).max() > 0.05  # the check below means something
    np.testing.assert_allclose(got.sum((1, 2)), change, atol=0.02)
    chunked, _ = integrated_gradients(model, inputs, steps=4, batch_size=4)  # 4 + 1 (padded) rows
    whole, _ = integrated_gradients(model, inputs, steps=4, batch_size=5)
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-6)


def test_other_class_of_two_gets_the_opposite_attributions():
    model, inputs = _tiny_bert()
    first, _ = integrated_gradients(model, inputs, labels=np.zeros(5), steps=8)
    second, _ = integrated_gradients(model, inputs, labels=np.ones(5), steps=8)
    np.testing.assert_allclose(first, -second, rtol=1e-3, atol=1e-6)  # p1 = 1 - p0


def test_errors_and_the_layer_is_left_as_it_was():
    model = _linear_model()
    with pytest.raises(ValueError, match="no layer named 'Embedding-Nope'"):
        integrated_gradients(model, np.zeros((1, T), "int32"), embedding_name="Embedding-Nope")
    a, b = keras.Input((T,), dtype="int32"), keras.Input((T,), dtype="int32")
    shared = keras.layers.Embedding(VOCAB, DIM, name="Embedding-Token")
    merged = keras.layers.Flatten()(keras.layers.Add()([shared(a), shared(b)]))
    twice = keras.Model([a, b], keras.layers.Dense(2)(merged))
    with pytest.raises(ValueError, match="embeds more than one input"):
        integrated_gradients(twice, [np.zeros((1, T), "int32")] * 2, labels=[0])
    assert "call" not in vars(shared)
    assert twice.predict([np.zeros((1, T), "int32")] * 2, verbose=0).shape == (1, 2)
