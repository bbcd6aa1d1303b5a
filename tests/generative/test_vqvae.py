"""VQ-VAE: nearest-code quantisation, the straight-through gradient, the losses, usage and revival."""

import keras
import numpy as np
import pytest
from keras import layers, ops

from kerasformers.generative import VQVAE, VectorQuantizer, codebook_usage
from kerasformers.generative.gradients import value_and_gradients, variable_gradients


def quantizer_with_codebook(codebook):
    quantizer = VectorQuantizer(*codebook.shape)
    quantizer.codebook.assign(codebook)
    return quantizer


def test_quantizes_to_the_nearest_code():
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(7, 3)).astype("float32")
    z_e = rng.normal(size=(2, 5, 3)).astype("float32")
    straight_through, z_q, indices = quantizer_with_codebook(codebook)(z_e)
    expected = np.argmin(((z_e[..., None, :] - codebook) ** 2).sum(-1), axis=-1)
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), expected)
    np.testing.assert_allclose(ops.convert_to_numpy(z_q), codebook[expected])
    np.testing.assert_allclose(ops.convert_to_numpy(straight_through), codebook[expected], atol=1e-6)


def test_straight_through_gradient_is_identity_on_encoder_output():
    rng = np.random.default_rng(1)
    quantizer = quantizer_with_codebook(rng.normal(size=(5, 4)).astype("float32"))
    z_e = rng.normal(size=(3, 4)).astype("float32")
    upstream = rng.normal(size=(3, 4)).astype("float32")  # any downstream gradient passes through unchanged
    _, (grad,) = value_and_gradients(lambda t: ops.sum(ops.multiply(quantizer(t)[0], upstream)), [z_e])
    np.testing.assert_allclose(grad, upstream, rtol=1e-6)


def test_codebook_and_commitment_gradients_go_to_their_sides():
    keras.utils.set_random_seed(2)
    encoder = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    decoder = keras.Sequential([keras.Input((3,)), layers.Dense(4)])
    model = VQVAE(encoder, decoder, num_codes=6, code_dim=3, beta=0.25)
    x = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    model(x)
    codebook = model.quantizer.codebook

    def term(name):
        return lambda: model.loss_terms(x, model(x))[name]

    _, (codebook_grad, *encoder_grads) = variable_gradients(
        term("codebook"), [codebook] + encoder.trainable_variables
    )
    assert np.abs(codebook_grad).max() > 0 and all(np.abs(g).max() == 0 for g in encoder_grads)
    _, (codebook_grad, *encoder_grads) = variable_gradients(
        term("commitment"), [codebook] + encoder.trainable_variables
    )
    assert np.abs(codebook_grad).max() == 0 and all(np.abs(g).max() > 0 for g in encoder_grads)
    outputs = {k: ops.convert_to_numpy(v) for k, v in model(x).items()}
    commitment = np.mean((outputs["z_e"] - outputs["z_q"]) ** 2)
    expected = np.mean((x - outputs["reconstruction"]) ** 2) + 1.25 * commitment
    assert float(ops.convert_to_numpy(model.compute_loss(x=x, y_pred=model(x)))) == pytest.approx(
        expected, rel=1e-5
    )


def test_usage_perplexity_and_dead_code_revival():
    counts, perplexity, dead = codebook_usage(np.array([0, 0, 1, 1, 2, 2, 3, 3]), num_codes=6)
    assert counts.tolist() == [2, 2, 2, 2, 0, 0] and perplexity == pytest.approx(4.0) and dead == 2
    keras.utils.set_random_seed(4)
    encoder = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    model = VQVAE(encoder, keras.Sequential([keras.Input((3,)), layers.Dense(4)]), num_codes=16, code_dim=3)
    x = np.random.default_rng(5).normal(size=(64, 4)).astype("float32")
    model(x)
    model.quantizer.codebook.assign(np.full((16, 3), 50.0, "float32"))  # all codes far away: one gets used
    assert codebook_usage(model.encode_to_codes(x), 16)[2] == 15
    assert model.revive_dead_codes(x) == 15
    _, perplexity_after, dead_after = codebook_usage(model.encode_to_codes(x), 16)
    assert dead_after < 15 and perplexity_after > 2.0
