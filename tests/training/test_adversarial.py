"""FGM / gradient penalty / VAT wrappers against hand-written JAX references (JAX backend)."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from kerasformers.training import adversarial_training, gradient_penalty, virtual_adversarial_training

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="wrappers hook the JAX trainer")

VOCAB, DIM, T, N = 10, 4, 5, 8


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, size=(N, T)).astype("int32"), rng.integers(0, 2, size=(N,)).astype("int32")


def _bag_model(lr=0.5):
    """ids → Embedding-Token → mean → dense softmax; simple enough to write in jnp below."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, DIM, name="Embedding-Token")(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy")
    return model


def _params(model):
    return [jnp.asarray(keras.ops.convert_to_numpy(v)) for v in model.trainable_variables]  # E, W, b


def _jnp_loss(params, ids, y):
    embeddings, kernel, bias = params
    probs = jax.nn.softmax(embeddings[ids].mean(1) @ kernel + bias)
    return -jnp.mean(jnp.log(probs[jnp.arange(len(y)), y]))


def _one_step(model, ids, y, **kwargs):
    history = model.fit(ids, y, batch_size=N, epochs=1, shuffle=False, verbose=0, **kwargs)
    return _params(model), history.history["loss"][0]


def test_fgm_step_equals_gradient_at_perturbed_embeddings():
    ids, y = _data()
    model = _bag_model()
    start, eps, lr = _params(model), 0.3, 0.5
    adversarial_training(model, "Embedding-Token", epsilon=eps)
    got, logged = _one_step(model, ids, y)

    g = jax.grad(_jnp_loss)(start, ids, y)[0]
    delta = eps * g / (jnp.linalg.norm(g) + 1e-8)
    perturbed = [start[0] + delta, *start[1:]]
    grads = jax.grad(_jnp_loss)(perturbed, ids, y)
    for new, old, grad in zip(got, start, grads):
        np.testing.assert_allclose(new, old - lr * grad, rtol=1e-5, atol=1e-6)
    assert logged == pytest.approx(float(_jnp_loss(perturbed, ids, y)), rel=1e-5)
    assert logged > float(_jnp_loss(start, ids, y))  # the perturbation is adversarial


def test_gradient_penalty_step_and_logged_loss():
    ids, y = _data(1)
    model = _bag_model()
    start, eps, lr = _params(model), 2.0, 0.5
    gradient_penalty(model, "Embedding-Token", epsilon=eps)
    got, logged = _one_step(model, ids, y)

    def penalised(params):
        g = jax.grad(_jnp_loss)(params, ids, y)[0]
        return _jnp_loss(params, ids, y) + 0.5 * eps * jnp.sum(g**2)

    grads = jax.grad(penalised)(start)
    for new, old, grad in zip(got, start, grads):
        np.testing.assert_allclose(new, old - lr * grad, rtol=1e-5, atol=1e-6)
    assert logged == pytest.approx(float(penalised(start)), rel=1e-5)


def test_vat_uses_unlabelled_rows_and_alpha_zero_is_plain_training():
    ids, y = _data(2)
    weights = np.array([1, 1, 0, 0, 0, 0, 0, 0], "float32")  # 2 labelled, 6 unlabelled rows
    plain = _bag_model()
    expected, plain_loss = _one_step(plain, ids, y, sample_weight=weights)

    off = virtual_adversarial_training(_bag_model(), "Embedding-Token", alpha=0.0, epsilon=1.0)
    got, off_loss = _one_step(off, ids, y, sample_weight=weights)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert off_loss == pytest.approx(plain_loss, rel=1e-6)

    runs = []
    for _ in range(2):
        on = virtual_adversarial_training(_bag_model(), "Embedding-Token", alpha=10.0, epsilon=5.0)
        runs.append(_one_step(on, ids, y, sample_weight=weights))
    (vat_params, vat_loss), (again_params, _) = runs
    assert vat_loss > plain_loss  # KL term is positive
    # The unlabelled rows moved the embeddings of tokens that only they contain.
    labelled_tokens = set(ids[:2].ravel().tolist())
    only_unlabelled = np.array(sorted(set(ids[2:].ravel().tolist()) - labelled_tokens))
    assert only_unlabelled.size
    assert np.abs(vat_params[0][only_unlabelled] - expected[0][only_unlabelled]).max() > 1e-4
    np.testing.assert_array_equal(expected[0][only_unlabelled], _params(_bag_model())[0][only_unlabelled])
    for a, b in zip(vat_params, again_params):  # seeded: reproducible
        np.testing.assert_array_equal(a, b)


def test_errors_name_the_layer():
    model = _bag_model()
    with pytest.raises(ValueError, match="no layer named 'Embedding-Nope'"):
        adversarial_training(model, "Embedding-Nope")
    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile the model"):
        gradient_penalty(uncompiled, "dense")


def test_fgm_on_tiny_bert_matches_bert4keras_procedure():
    """bert4keras's FGM: add δ to E, run a normal train step, subtract δ."""
    from kerasformers.models import build_transformer_model

    keras.utils.set_random_seed(3)
    bert = build_transformer_model(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=24,
        hidden_act="gelu",
        max_position_embeddings=16,
        type_vocab_size=2,
        with_pool=True,
    )
    model = keras.Model(bert.inputs, keras.layers.Dense(2, activation="softmax")(bert.output))
    initial = model.get_weights()
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 40, size=(6, 7)).astype("int32")
    tokens[3:, 5:] = 0  # padding
    segments = np.zeros_like(tokens)
    labels = np.array([0, 1, 0, 1, 1, 0], "int32")

    # Reference, by hand: δ from the clean gradient, a plain Adam step at E + δ, then remove δ.
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    emb = model.get_layer("Embedding-Token").embeddings
    index = [id(v) for v in model.trainable_variables].index(id(emb))
    values = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss_of_embeddings(e):
        variables = list(values)
        variables[index] = e
        probs, _ = model.stateless_call(variables, non_trainable, [tokens, segments])
        return jnp.mean(keras.losses.sparse_categorical_crossentropy(labels, probs))

    g = jax.grad(loss_of_embeddings)(values[index])
    delta = 0.5 * g / (jnp.linalg.norm(g) + 1e-8)
    emb.assign(emb.value + delta)
    model.fit([tokens, segments], labels, batch_size=6, epochs=1, shuffle=False, verbose=0)
    emb.assign(emb.value - delta)
    expected = model.get_weights()

    # The wrapper, from the same start with a fresh optimizer.
    model.set_weights(initial)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    adversarial_training(model, "Embedding-Token", epsilon=0.5)
    model.fit([tokens, segments], labels, batch_size=6, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, atol=2e-6)
    w_index = [id(v) for v in model.weights].index(id(emb))
    assert np.abs(expected[w_index] - initial[w_index]).max() > 1e-3  # the step did something


def test_vat_logged_loss_matches_reference_and_direction_is_adversarial():
    ids, y = _data(4)
    weights = np.array([1, 1, 1, 0, 0, 0, 0, 0], "float32")
    xi, eps, alpha = 0.1, 2.0, 3.0
    model = virtual_adversarial_training(
        _bag_model(), "Embedding-Token", epsilon=eps, xi=xi, alpha=alpha, seed=5
    )
    start = _params(model)
    _, logged = _one_step(model, ids, y, sample_weight=weights)

    def probs(params):
        embeddings, kernel, bias = params
        return jax.nn.softmax(embeddings[ids].mean(1) @ kernel + bias)

    def kl(r):
        p, q = probs(start), probs([start[0] + r, *start[1:]])
        return jnp.mean(jnp.sum(p * (jnp.log(p) - jnp.log(q)), -1))

    noise = jax.random.normal(jax.random.fold_in(jax.random.key(5), 0), start[0].shape)
    probe = xi * noise / jnp.linalg.norm(noise, axis=-1, keepdims=True)
    g = jax.grad(kl)(probe)
    r_adv = eps * g / jnp.linalg.norm(g)
    p = probs(start)
    supervised = jnp.mean(-jnp.log(p[jnp.arange(N), y]) * weights)  # Keras: sum(w * l) / batch
    assert logged == pytest.approx(float(supervised + alpha * kl(r_adv)), rel=1e-4)
    # The power iteration found a direction that hurts more than random ones of the same norm.
    for k in range(5):
        random_dir = jax.random.normal(jax.random.key(100 + k), start[0].shape)
        assert kl(r_adv) > kl(eps * random_dir / jnp.linalg.norm(random_dir))
