"""The flow inside the f-VAE: exact inverse and the log-determinant against a brute-force Jacobian."""

import keras
import numpy as np
import pytest
from keras import layers, ops

from kerasformers.generative import Flow, FlowVAE
from kerasformers.generative.flows import brute_force_log_det


def random_flow(mixing, dim=4, seed=0):
    keras.utils.set_random_seed(seed)
    flow = Flow(dim, num_steps=3, hidden=8, mixing=mixing, seed=seed)
    flow(np.zeros((1, dim), "float32"))
    rng = np.random.default_rng(seed)
    for variable in flow.trainable_variables:  # couplings start as the identity: make every weight random
        if len(variable.shape) == 2 and variable.shape[0] == variable.shape[1] == dim:
            continue  # the invertible 1x1 matrices keep their random rotation ...
        variable.assign(rng.normal(0, 0.5, size=variable.shape).astype("float32"))
    for variable in flow.trainable_variables:  # ... then get perturbed away from orthogonal
        if len(variable.shape) == 2 and variable.shape[0] == variable.shape[1] == dim:
            variable.assign(
                ops.convert_to_numpy(variable) + rng.normal(0, 0.3, size=(dim, dim)).astype("float32")
            )
    return flow


@pytest.mark.parametrize("mixing", ["linear", "permutation"])
def test_flow_is_invertible(mixing):
    flow = random_flow(mixing)
    x = np.random.default_rng(1).normal(size=(16, 4)).astype("float32")
    y, _ = flow(x)
    assert np.max(np.abs(ops.convert_to_numpy(y) - x)) > 0.1  # a real transformation
    # float32 through three coupling steps and non-orthogonal 1x1 mixings: CI's torch pass once
    # reached 1.03e-5 on one of 64 elements (a wrong inverse is off by O(0.1)).
    np.testing.assert_allclose(ops.convert_to_numpy(flow.inverse(y)), x, atol=5e-5)


@pytest.mark.parametrize("mixing", ["linear", "permutation"])
def test_log_det_equals_brute_force_jacobian(mixing):
    flow = random_flow(mixing, seed=2)
    x = np.random.default_rng(3).normal(size=(3, 4)).astype("float32")
    _, log_det = flow(x)
    expected = brute_force_log_det(flow, x)
    assert np.max(np.abs(expected)) > 0.05
    np.testing.assert_allclose(ops.convert_to_numpy(log_det), expected, atol=2e-4)


def test_flow_vae_kl_estimate_reduces_to_closed_form_for_identity_flow():
    keras.utils.set_random_seed(4)
    encoder = keras.Sequential([keras.Input((6,)), layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), layers.Dense(6)])
    model = FlowVAE(encoder, decoder, latent_dim=2, num_steps=0)
    x = np.random.default_rng(5).uniform(size=(20000, 6)).astype("float32")
    outputs = model(x, training=True)
    mean, log_var = ops.convert_to_numpy(outputs["mean"]), ops.convert_to_numpy(outputs["log_var"])
    closed = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    assert np.mean(ops.convert_to_numpy(outputs["kl"])) == pytest.approx(np.mean(closed), abs=0.02)
