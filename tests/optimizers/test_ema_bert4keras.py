"""EMA equals bert4keras's own numbers (recorded by make_ema_fixture.py in the oracle venv)."""

import os

import keras
import numpy as np
import pytest

from kerasformers.optimizers import Adam, Lion, extend_with_exponential_moving_average

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "ema_bert4keras.npz"))


def flat(model):
    return np.concatenate([np.asarray(w).ravel() for w in model.get_weights()])


@pytest.mark.parametrize(
    "label, base, lr, tolerance",
    [("sgd", keras.optimizers.SGD, 0.05, 1e-5), ("adam", Adam, 0.05, 1e-5), ("lion", Lion, 0.01, 1e-5)],
)
def test_ema_matches_bert4keras(label, base, lr, tolerance):
    """Training and the average, for SGD, bert4keras's Adam and Lion, equal bert4keras's numbers."""
    x, y = FIXTURE["x"], FIXTURE["y"]
    optimizer = extend_with_exponential_moving_average(base)(lr, ema_momentum=float(FIXTURE["momentum"]))
    model = keras.Sequential([keras.Input((x.shape[-1],)), keras.layers.Dense(y.shape[-1])])
    model.set_weights([FIXTURE["kernel"], FIXTURE["bias"]])
    model.compile(loss="mse", optimizer=optimizer)
    for step in range(len(x)):
        model.train_on_batch(x[step], y[step])
    np.testing.assert_allclose(flat(model), FIXTURE[f"{label}_history"][-1], rtol=tolerance, atol=tolerance)
    for correction in (True, False):
        optimizer.apply_ema_weights(bias_correction=correction)
        np.testing.assert_allclose(
            flat(model),
            FIXTURE[f"{label}_ema_corrected_{correction}"],
            rtol=tolerance,
            atol=tolerance,
            err_msg=f"bias_correction={correction}",
        )
        optimizer.reset_old_weights()
    np.testing.assert_allclose(flat(model), FIXTURE[f"{label}_history"][-1], rtol=tolerance, atol=tolerance)


def test_first_step_share_after_1000_steps_is_bert4keras_not_keras():
    """The issue's number: with a zero start and bias correction, step 1 keeps 0.06% of the average."""
    momentum, steps = 0.999, 1000
    share = (1 - momentum) * momentum ** (steps - 1) / (1 - momentum**steps)
    # Our average is the same linear recursion: check it on the recorded SGD run (momentum 0.9).
    history, m = FIXTURE["sgd_history"], float(FIXTURE["momentum"])
    weights = (1 - m) * m ** np.arange(len(history))[::-1] / (1 - m ** len(history))
    np.testing.assert_allclose(weights @ history, FIXTURE["sgd_ema_corrected_True"], rtol=1e-5, atol=1e-6)
    assert share == pytest.approx(0.000582, rel=1e-2)


def test_apply_before_any_step_is_a_clear_error():
    optimizer = extend_with_exponential_moving_average(Adam)(0.01)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=optimizer)
    optimizer.build(model.trainable_variables)
    with pytest.raises(ValueError, match="no training step"):
        optimizer.apply_ema_weights()
