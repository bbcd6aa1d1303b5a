"""Record bert4keras's EMA on a small Dense regression (run in the oracle venv, ``make oracle``).

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 /work/.venv-bert4keras/bin/python tests/optimizers/make_ema_fixture.py

Writes ema_bert4keras.npz: the data, the initial weights, the weights after every step and what
``apply_ema_weights()`` puts in the model with and without bias correction, for SGD,
bert4keras's Adam and bert4keras's Lion.
"""

import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.optimizers import Adam, Lion, extend_with_exponential_moving_average

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ema_bert4keras.npz")
STEPS, MOMENTUM, D, U, B = 30, 0.9, 4, 3, 8


def run(optimizer_class, learning_rate, x, y, kernel, bias):
    K.clear_session()
    model = keras.models.Sequential([keras.layers.Dense(U, input_shape=(D,))])
    K.batch_set_value(zip(model.weights, [kernel, bias]))
    model.compile(loss="mse", optimizer=optimizer_class(learning_rate, ema_momentum=MOMENTUM))
    history = []
    for step in range(STEPS):
        model.train_on_batch(x[step], y[step])
        history.append(np.concatenate([w.ravel() for w in K.batch_get_value(model.weights)]))
    results = {"history": np.stack(history)}
    for correction in (True, False):
        model.optimizer.apply_ema_weights(bias_correction=correction)
        results[f"ema_corrected_{correction}"] = np.concatenate(
            [w.ravel() for w in K.batch_get_value(model.weights)]
        )
        model.optimizer.reset_old_weights()
    return results


def main():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(STEPS, B, D)).astype("float32")
    y = rng.normal(size=(STEPS, B, U)).astype("float32")
    kernel = rng.normal(size=(D, U)).astype("float32")
    bias = (rng.normal(size=(U,)) * 0.5).astype("float32")
    arrays = {"x": x, "y": y, "kernel": kernel, "bias": bias, "momentum": np.float64(MOMENTUM)}
    for label, cls, lr in (("sgd", keras.optimizers.SGD, 0.05), ("adam", Adam, 0.05), ("lion", Lion, 0.01)):
        for key, value in run(extend_with_exponential_moving_average(cls), lr, x, y, kernel, bias).items():
            arrays[f"{label}_{key}"] = value
    np.savez(OUT + ".tmp.npz", **arrays)
    os.replace(OUT + ".tmp.npz", OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
