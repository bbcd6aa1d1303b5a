"""mixed_bfloat16 fine-tuning of a tiny BERT with the CRF and GlobalPointer heads."""
import keras
import numpy as np
import pytest

from kerasformers.layers import ConditionalRandomField, EfficientGlobalPointer
from kerasformers.layers.global_pointer import global_pointer_crossentropy
from kerasformers.models import build_transformer_model


@pytest.fixture
def bf16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def test_bert_crf_and_global_pointer_fine_tune_in_bfloat16(bf16_policy):
    keras.utils.set_random_seed(0)
    bert = build_transformer_model(vocab_size=30, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=32, hidden_act="gelu", max_position_embeddings=16,
                                   type_vocab_size=2)
    hidden = bert.output
    crf = ConditionalRandomField(lr_multiplier=10, name="crf")
    tags = crf(keras.layers.Dense(3, name="tags")(hidden))
    spans = EfficientGlobalPointer(2, 8, name="spans")(hidden)
    model = keras.Model(bert.inputs, [tags, spans])
    assert hidden.dtype == "bfloat16" and tags.dtype == "bfloat16" and spans.dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)

    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 30, size=(32, 8)).astype("int32")
    tokens[16:, 6:] = 0
    segments = np.zeros_like(tokens)
    tag_labels = (tokens % 3).astype("int32")
    span_labels = np.zeros((32, 2, 8, 8), "float32")
    for b, row in enumerate(tokens):
        for i, tok in enumerate(row):
            if tok and tok % 5 == 0:
                span_labels[b, tok % 2, i, i] = 1
    model.compile(keras.optimizers.Adam(3e-3), loss=[crf.sparse_loss, global_pointer_crossentropy])
    history = model.fit([tokens, segments], [tag_labels, span_labels], batch_size=8, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.6 * losses[0], losses
    assert all(v.dtype == "float32" for v in model.trainable_variables)
