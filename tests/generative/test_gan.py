"""The one-loss GAN gives every parameter the gradient of the usual two-loss alternating formulation."""

import keras
import numpy as np
import pytest
from keras import layers

from kerasformers.generative import OneLossGAN
from kerasformers.generative.gan import two_loss_reference
from kerasformers.generative.gradients import variable_gradients


def random_gan(seed=0):
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential([keras.Input((3,)), layers.Dense(8, activation="tanh"), layers.Dense(2)])
    discriminator = keras.Sequential([keras.Input((2,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    gan = OneLossGAN(generator, discriminator, latent_dim=3)
    rng = np.random.default_rng(seed)
    for variable in gan.trainable_variables:
        variable.assign(rng.normal(0, 0.5, size=variable.shape).astype("float32"))
    return gan


def test_single_loss_gradients_equal_two_loss_alternating_gradients():
    gan = random_gan()
    rng = np.random.default_rng(1)
    real = rng.normal(size=(16, 2)).astype("float32")
    z = rng.normal(size=(16, 3)).astype("float32")
    g_vars, d_vars = gan.generator.trainable_variables, gan.discriminator.trainable_variables
    single_value, single_grads = variable_gradients(
        lambda: OneLossGAN.single_loss(gan.logits(real, z)), g_vars + d_vars
    )
    d_value, d_grads = variable_gradients(lambda: two_loss_reference(gan, real, z)[0], d_vars)
    g_value, g_grads = variable_gradients(lambda: two_loss_reference(gan, real, z)[1], g_vars)
    assert single_value == pytest.approx(d_value + g_value, rel=1e-6)
    for got, expected in zip(single_grads, g_grads + d_grads):
        assert np.max(np.abs(expected)) > 1e-4
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    # the naive sum L_D + L_G would give D a different gradient: the stop_gradient terms matter
    _, naive = variable_gradients(lambda: sum(two_loss_reference(gan, real, z)), d_vars)
    assert max(np.max(np.abs(a - b)) for a, b in zip(naive, d_grads)) > 1e-3
