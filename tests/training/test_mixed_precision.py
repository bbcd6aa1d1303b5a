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
    bert = build_transformer_model(
        vocab_size=30,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_act="gelu",
        max_position_embeddings=16,
        type_vocab_size=2,
    )
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


# ---------------------------------------------------------------------- mixed vs float32 losses
def _classifier(policy):
    """Tiny BERT + softmax head built under ``policy`` (variables stay float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        bert = build_transformer_model(
            vocab_size=40,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            hidden_act="gelu",
            max_position=16,
            segment_vocab_size=2,
            with_pool=True,
        )
        probabilities = keras.layers.Dense(3, activation="softmax", dtype="float32", name="head")(bert.output)
        return keras.Model(bert.inputs, probabilities)
    finally:
        keras.config.set_dtype_policy(previous)


def _losses(policy, initial, optimizer, batches):
    model = _classifier(policy)
    model.set_weights(initial)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for x, y in batches]
    return model, losses


@pytest.mark.parametrize("policy, tolerance", [("mixed_float16", 0.01), ("mixed_bfloat16", 0.05)])
def test_mixed_precision_losses_track_float32(policy, tolerance):
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(3):
        tokens = rng.integers(1, 40, size=(16, 12)).astype("int32")
        tokens[::4, 9:] = 0
        batches.append(([tokens, np.zeros_like(tokens)], (tokens[:, 1] % 3).astype("int32")))
    batches = batches * 4  # three epochs over three batches: the loss must fall
    keras.utils.set_random_seed(0)
    initial = _classifier("float32").get_weights()

    _, reference = _losses("float32", initial, keras.optimizers.Adam(3e-3), batches)
    optimizer = keras.optimizers.Adam(3e-3)
    if policy == "mixed_float16":  # float16 gradients underflow without loss scaling
        # 2**10 instead of the default 2**15: the default overflows at first and skips steps, which
        # is the scaler working but puts the run a step behind float32.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**10)
    model, mixed = _losses(policy, initial, optimizer, batches)

    assert model.get_layer("Transformer-0-FeedForward").compute_dtype == policy.split("_")[1]
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert np.isfinite(mixed).all()
    assert reference[-1] < reference[0] - 0.1, reference  # the run learns something
    print(policy, "max |loss - float32 loss|", np.abs(np.subtract(mixed, reference)).max())
    np.testing.assert_allclose(mixed, reference, atol=tolerance, rtol=0)
    if policy == "mixed_float16":
        # every step was applied with a finite scale (an overflow would have skipped one)
        assert float(keras.ops.convert_to_numpy(model.optimizer.dynamic_scale)) == 2.0**10
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == len(batches)
