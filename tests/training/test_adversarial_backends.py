"""FGM, gradient penalty and VAT on every backend, against NumPy's gradients of a bag-of-embeddings model."""

import keras
import numpy as np
import pytest

from kerasformers.training import adversarial_training, gradient_penalty, virtual_adversarial_training

VOCAB, DIM, T, N = 10, 4, 5, 8


def _model(lr=0.5):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, DIM, name="Embedding-Token")(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.integers(0, VOCAB, size=(N, T)).astype("int32"), rng.integers(0, 2, size=(N,)).astype("int32")


def _loss_and_grads(params, ids, y):
    """Mean cross-entropy of softmax(mean_t E[ids] · W + b) and its gradients (E, W, b)."""
    table, kernel, bias = params
    h = table[ids].mean(1)
    logits = h @ kernel + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    dlogits = (p - np.eye(2)[y]) / N
    dh = dlogits @ kernel.T
    dtable = np.zeros_like(table)
    np.add.at(dtable, ids, np.repeat(dh[:, None, :] / T, T, axis=1))
    return loss, [dtable, h.T @ dlogits, dlogits.sum(0)]


def _params(model):
    return [keras.ops.convert_to_numpy(v).astype("float64") for v in model.trainable_variables]


def test_fgm_step_equals_gradient_at_perturbed_embeddings():
    ids, y = _data()
    model = _model()
    start, eps, lr = _params(model), 0.3, 0.5
    adversarial_training(model, "Embedding-Token", epsilon=eps)
    logged = model.fit(ids, y, batch_size=N, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    clean, grads = _loss_and_grads(start, ids, y)
    perturbed = [start[0] + eps * grads[0] / np.linalg.norm(grads[0]), *start[1:]]
    adversarial, grads = _loss_and_grads(perturbed, ids, y)
    for new, old, grad in zip(_params(model), start, grads):
        np.testing.assert_allclose(new, old - lr * grad, rtol=1e-4, atol=1e-6)
    assert logged == pytest.approx(adversarial, rel=1e-4)
    assert adversarial > clean


def test_gradient_penalty_step_and_logged_loss():
    ids, y = _data()
    model = _model()
    start, eps, lr = _params(model), 2.0, 0.5
    gradient_penalty(model, "Embedding-Token", epsilon=eps)
    logged = model.fit(ids, y, batch_size=N, epochs=1, shuffle=False, verbose=0).history["loss"][0]

    def penalised(params):
        loss, grads = _loss_and_grads(params, ids, y)
        return loss + 0.5 * eps * np.sum(grads[0] ** 2)

    assert logged == pytest.approx(penalised(start), rel=1e-4)
    # Its gradient (second order through ∂L/∂E) by central differences in float64.
    for i, (new, old) in enumerate(zip(_params(model), start)):
        grad = np.zeros_like(old)
        for j in np.ndindex(old.shape):
            shifted = [[p.copy() for p in start] for _ in range(2)]
            shifted[0][i][j] += 1e-6
            shifted[1][i][j] -= 1e-6
            grad[j] = (penalised(shifted[0]) - penalised(shifted[1])) / 2e-6
        np.testing.assert_allclose(new, old - lr * grad, rtol=1e-4, atol=1e-6)


def test_vat_alpha_zero_is_plain_training_and_unlabelled_rows_count():
    ids, y = _data()
    weights = np.array([1, 1, 0, 0, 0, 0, 0, 0], "float32")  # 2 labelled, 6 unlabelled rows

    def step(model):
        history = model.fit(ids, y, sample_weight=weights, batch_size=N, epochs=1, shuffle=False, verbose=0)
        return _params(model), history.history["loss"][0]

    expected, plain_loss = step(_model())
    got, off_loss = step(virtual_adversarial_training(_model(), alpha=0.0, epsilon=1.0))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert off_loss == pytest.approx(plain_loss, rel=1e-5)
    vat, vat_loss = step(virtual_adversarial_training(_model(), alpha=10.0, epsilon=5.0))
    assert vat_loss > plain_loss + 1e-3  # the KL term is in the loss
    only_unlabelled = np.array(sorted(set(ids[2:].ravel().tolist()) - set(ids[:2].ravel().tolist())))
    assert only_unlabelled.size
    assert np.abs(vat[0][only_unlabelled] - expected[0][only_unlabelled]).max() > 1e-4


def test_gradient_penalty_through_bert_attention():
    """Second derivatives through attention (PyTorch's fused CPU attention kernel has none)."""
    from kerasformers.models import build_transformer_model

    keras.utils.set_random_seed(3)
    bert = build_transformer_model(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        hidden_act="gelu",
        max_position_embeddings=8,
        type_vocab_size=2,
        return_keras_model=False,
    )
    pooled = keras.layers.GlobalAveragePooling1D()(bert.model.output)
    model = keras.Model(bert.model.inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    tokens = np.random.default_rng(0).integers(1, 20, size=(4, 6))
    inputs, labels = [tokens, np.zeros_like(tokens)], np.array([0, 1, 0, 1])
    clean = model.evaluate(inputs, labels, verbose=0)
    gradient_penalty(model, "Embedding-Token", epsilon=100.0)
    logged = model.fit(inputs, labels, batch_size=4, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(logged) and logged > clean + 1e-4
