"""VAE and clustering VAE: the loss and its gradient against NumPy, and training on real digits."""

import keras
import numpy as np
import pytest
from keras import layers, ops

from kerasformers.generative import VAE, ClusteringVAE, gaussian_kl
from kerasformers.generative.gradients import variable_gradients


def tiny_vae(seed=0):
    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), layers.Dense(3)])
    vae = VAE(encoder, decoder, reconstruction="bernoulli")
    rng = np.random.default_rng(seed)
    for variable in vae.trainable_variables:  # every weight and bias random
        variable.assign(rng.normal(0, 0.3, size=variable.shape).astype("float32"))
    return vae


def numpy_negative_elbo(weights, x, noise):
    w1, b1, w2, b2, w3, b3 = weights
    encoded = np.tanh(x @ w1 + b1) @ w2 + b2
    mean, log_var = encoded[:, :2], encoded[:, 2:]
    logits = (mean + np.exp(0.5 * log_var) * noise) @ w3 + b3
    reconstruction = np.sum(np.logaddexp(0, logits) - x * logits, axis=1)
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    return np.mean(reconstruction + kl)


def test_kl_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean, log_var = np.array([[0.5, -1.0]]), np.array([[-0.4, 0.3]])
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((400_000, 2))
    log_q = -0.5 * np.sum((z - mean) ** 2 / np.exp(log_var) + log_var + np.log(2 * np.pi), axis=1)
    log_p = -0.5 * np.sum(z**2 + np.log(2 * np.pi), axis=1)
    closed = float(ops.convert_to_numpy(gaussian_kl(mean.astype("float32"), log_var.astype("float32")))[0])
    assert closed == pytest.approx(np.mean(log_q - log_p), abs=5e-3)


def test_loss_and_gradient_match_numpy_finite_differences():
    vae = tiny_vae()
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(5, 3)).astype("float32")
    noise = rng.standard_normal((5, 2)).astype("float32")

    def loss():
        terms = vae.loss_terms(x, noise)
        return ops.mean(terms["reconstruction"] + terms["kl"])

    value, grads = variable_gradients(loss, vae.trainable_variables)
    weights = [ops.convert_to_numpy(v).astype(np.float64) for v in vae.trainable_variables]
    assert value == pytest.approx(numpy_negative_elbo(weights, x, noise), rel=1e-5)
    step = 1e-5
    for index, weight in enumerate(weights):
        numeric = np.zeros_like(weight)
        for position in np.ndindex(weight.shape):
            shifted = [w.copy() for w in weights]
            shifted[index][position] += step
            upper = numpy_negative_elbo(shifted, x, noise)
            shifted[index][position] -= 2 * step
            numeric[position] = (upper - numpy_negative_elbo(shifted, x, noise)) / (2 * step)
        np.testing.assert_allclose(grads[index], numeric, rtol=1e-3, atol=1e-5)


def test_fit_uses_the_negative_elbo():
    vae = tiny_vae()
    x = np.random.default_rng(2).uniform(size=(64, 3)).astype("float32")
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, epochs=15, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < history[0]
    evaluated = vae.evaluate(x, batch_size=64, verbose=0)
    assert 0 < evaluated < history[0]


def test_clustering_vae_loss_terms_by_hand():
    keras.utils.set_random_seed(3)
    encoder = keras.Sequential([keras.Input((3,)), layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), layers.Dense(3)])
    classifier = keras.Sequential([keras.Input((2,)), layers.Dense(3)])
    model = ClusteringVAE(
        encoder, decoder, classifier, num_clusters=3, latent_dim=2, reconstruction="gaussian"
    )
    x = np.random.default_rng(4).uniform(size=(6, 3)).astype("float32")
    outputs = {k: ops.convert_to_numpy(v) for k, v in model(x, training=True).items()}
    means = ops.convert_to_numpy(model.cluster_means)
    z, probs, log_var = outputs["z"], outputs["cluster_probs"], outputs["log_var"]
    reconstruction = np.sum(0.5 * (x - outputs["reconstruction"]) ** 2 + 0.5 * np.log(2 * np.pi), axis=1)
    gaussian = np.sum(probs * 0.5 * np.sum((z[:, None] - means[None]) ** 2, -1), 1) - 0.5 * log_var.sum(1)
    category = np.sum(probs * np.log(probs + 1e-8), axis=1)
    expected = np.mean(reconstruction + gaussian + category)
    got = float(
        ops.convert_to_numpy(
            model.compute_loss(
                x=x,
                y_pred=model(x, training=True) | {k: ops.convert_to_tensor(v) for k, v in outputs.items()},
            )
        )
    )
    assert got == pytest.approx(expected, rel=1e-5)
