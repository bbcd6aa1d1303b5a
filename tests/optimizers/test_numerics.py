"""Every extension against an independent NumPy reference, trained through Keras.

The model is a single Dense layer with MSE loss, whose gradient is known in closed
form: for `pred = x @ W + b`, `r = pred - y`, `dW = 2 x^T r / (B*U)`, `db = 2 sum_B r / (B*U)`.
"""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from kerasformers.optimizers import (
    Adam,
    extend_with_exponential_moving_average,
    extend_with_gradient_accumulation,
    extend_with_gradient_hook,
    extend_with_layer_adaptation,
    extend_with_lazy_optimization,
    extend_with_lookahead,
    extend_with_parameter_wise_lr,
    extend_with_piecewise_linear_lr,
    extend_with_weight_decay,
    piecewise_linear,
)

D, U, B = 4, 3, 8
LR = 0.05


def data(steps, batch=B, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(steps, batch, D)).astype("float32")
    y = rng.normal(size=(steps, batch, U)).astype("float32")
    return x, y


def dense_model(optimizer, name="dense", seed=1):
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(U, name=name)])
    kernel = rng.normal(size=(D, U)).astype("float32")
    bias = rng.normal(size=(U,)).astype("float32") * 0.5
    model.set_weights([kernel, bias])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def train(model, xs, ys):
    """One train_on_batch per step; returns the weights after every step."""
    history = []
    for x, y in zip(xs, ys):
        model.train_on_batch(x, y)
        history.append([np.array(w, dtype="float64") for w in model.get_weights()])
    return history


def grads(weights, x, y):
    kernel, bias = weights
    r = x.astype("float64") @ kernel + bias - y
    scale = 2.0 / (x.shape[0] * U)
    return [scale * x.T @ r, scale * r.sum(0)]


class NumpyAdam:
    """Reference Adam as bert4keras writes it: `m_hat / (sqrt(v_hat) + eps)`."""

    def __init__(self, shapes, beta_1=0.9, beta_2=0.999, epsilon=1e-6):
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.b1, self.b2, self.eps, self.t = beta_1, beta_2, epsilon, 0

    def deltas(self, gs, lrs):
        """Updates to *add* to each weight (lrs: one learning rate per weight)."""
        self.t += 1
        out = []
        for i, (g, lr) in enumerate(zip(gs, lrs)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            out.append(-lr * m_hat / (np.sqrt(v_hat) + self.eps))
        return out


def initial_weights(seed=1):
    model = dense_model(keras.optimizers.SGD(0.0), seed=seed)
    return [np.array(w, dtype="float64") for w in model.get_weights()]


def assert_close(history, reference, atol=2e-5):
    for step, (got, want) in enumerate(zip(history, reference)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=atol, rtol=1e-5, err_msg=f"step {step}")


def test_weight_decay_equals_numpy_and_keras_adamw():
    xs, ys = data(4)
    cls = extend_with_weight_decay(Adam)  # bert4keras's Adam: eps added after the bias correction
    opt = cls(learning_rate=LR, weight_decay_rate=0.2, exclude_from_weight_decay=["bias"], epsilon=1e-6)
    history = train(dense_model(opt), xs, ys)

    w, adam, reference = initial_weights(), NumpyAdam([(D, U), (U,)]), []
    for x, y in zip(xs, ys):
        deltas = adam.deltas(grads(w, x, y), [LR, LR])
        w = [w[0] + deltas[0] - LR * 0.2 * w[0], w[1] + deltas[1]]  # decay on kernel only
        reference.append(w)
    assert_close(history, reference)

    # On Keras's own Adam (eps before the bias correction) the extension equals Keras's AdamW.
    keras_cls = extend_with_weight_decay(keras.optimizers.Adam)
    keras_opt = keras_cls(
        learning_rate=LR, weight_decay_rate=0.2, exclude_from_weight_decay=["bias"], epsilon=1e-6
    )
    adamw = keras.optimizers.AdamW(learning_rate=LR, weight_decay=0.2, epsilon=1e-6)
    adamw.exclude_from_weight_decay(var_names=["bias"])
    assert_close(train(dense_model(keras_opt), xs, ys), train(dense_model(adamw), xs, ys))


def test_weight_decay_patterns_match_full_path_like_bert4keras():
    cls = extend_with_weight_decay(keras.optimizers.SGD)
    opt = cls(0.1, weight_decay_rate=0.5, exclude_from_weight_decay=["Norm", "bias"])
    inputs = keras.Input((D,))
    hidden = keras.layers.Dense(D, name="Transformer-0-FeedForward")(inputs)
    outputs = keras.layers.LayerNormalization(name="Transformer-0-FeedForward-Norm")(hidden)
    model = keras.Model(inputs, outputs)
    decayed = {v.path: opt._use_weight_decay(v) for v in model.trainable_variables}
    assert decayed == {
        "Transformer-0-FeedForward/kernel": True,
        "Transformer-0-FeedForward/bias": False,
        "Transformer-0-FeedForward-Norm/gamma": False,  # short name 'gamma' has no 'Norm'
        "Transformer-0-FeedForward-Norm/beta": False,
    }


@pytest.mark.parametrize("excluded", [[], ["bias"]])
def test_layer_adaptation_equals_numpy_lamb(excluded):
    xs, ys = data(4)
    cls = extend_with_layer_adaptation(extend_with_weight_decay(Adam))
    opt = cls(LR, weight_decay_rate=0.1, exclude_from_layer_adaptation=excluded)
    history = train(dense_model(opt), xs, ys)

    w, adam, reference = initial_weights(), NumpyAdam([(D, U), (U,)]), []
    for x, y in zip(xs, ys):
        deltas = adam.deltas(grads(w, x, y), [LR, LR])
        new = []
        for i, (wi, di) in enumerate(zip(w, deltas)):
            u = di - LR * 0.1 * wi
            if not (i == 1 and excluded):
                u = u * np.linalg.norm(wi) / np.linalg.norm(u / LR)
            new.append(wi + u)
        w = new
        reference.append(w)
    assert_close(history, reference)
    # The trust ratio makes each step's size lr * ||w|| (for adapted variables).
    step = history[1][0] - history[0][0]
    np.testing.assert_allclose(np.linalg.norm(step), LR * np.linalg.norm(history[0][0]), rtol=1e-4)


def test_piecewise_linear_function_matches_numpy_interp():
    schedule = {3: 1.0, 7: 0.2, 10: 0.5}
    steps = np.arange(0, 15)
    got = ops.convert_to_numpy(piecewise_linear(steps, schedule))
    want = np.interp(steps, [0, 3, 7, 10], [0.0, 1.0, 0.2, 0.5])
    np.testing.assert_allclose(got, want, atol=1e-6)
    # from_zero=False holds the first value before the first knot.
    got = ops.convert_to_numpy(piecewise_linear(steps, schedule, from_zero=False))
    np.testing.assert_allclose(got, np.interp(steps, [3, 7, 10], [1.0, 0.2, 0.5]), atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(st.integers(1, 500), st.floats(0, 5), min_size=1, max_size=5),
    st.lists(st.integers(0, 700), min_size=16, max_size=16),  # one shape: no re-tracing
)
def test_piecewise_linear_property_matches_numpy_interp(schedule, steps):
    knots = sorted(schedule.items())
    got = ops.convert_to_numpy(piecewise_linear(np.array(steps), schedule))
    want = np.interp(steps, [0] + [k for k, _ in knots], [0.0] + [v for _, v in knots])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_piecewise_linear_lr_equals_numpy_sgd():
    xs, ys = data(6)
    cls = extend_with_piecewise_linear_lr(keras.optimizers.SGD)
    opt = cls(learning_rate=LR, lr_schedule={2: 1, 4: 0.5})
    history = train(dense_model(opt), xs, ys)
    multipliers = [0.0, 0.5, 1.0, 0.75, 0.5, 0.5]  # schedule value at steps 0..5
    w, reference = initial_weights(), []
    for x, y, k in zip(xs, ys, multipliers):
        w = [wi - LR * k * gi for wi, gi in zip(w, grads(w, x, y))]
        reference.append(w)
    assert_close(history, reference)
    np.testing.assert_allclose(float(opt.learning_rate), LR * 0.5, rtol=1e-6)


def test_gradient_accumulation_equals_big_batch():
    """3 accumulated steps of batch 4 == 1 step of batch 12, over 2 updates (Adam)."""
    n, b, updates = 3, 4, 2
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n * b * updates, D)).astype("float32")
    y = rng.normal(size=(n * b * updates, U)).astype("float32")

    accumulated = dense_model(extend_with_gradient_accumulation(Adam)(LR, grad_accum_steps=n))
    accumulated.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
    big = dense_model(Adam(LR))
    big.fit(x, y, batch_size=n * b, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(accumulated.get_weights(), big.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert int(accumulated.optimizer.iterations) == updates


@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_lookahead_equals_numpy(base):
    k, alpha, steps = 3, 0.5, 7
    xs, ys = data(steps)
    inner = keras.optimizers.SGD if base == "sgd" else Adam
    opt = extend_with_lookahead(inner)(LR, steps_per_slow_update=k, slow_step_size=alpha)
    history = train(dense_model(opt), xs, ys)

    w, adam, reference = initial_weights(), NumpyAdam([(D, U), (U,)]), []
    slow = [wi.copy() for wi in w]
    for t, (x, y) in enumerate(zip(xs, ys), start=1):
        g = grads(w, x, y)
        deltas = [-LR * gi for gi in g] if base == "sgd" else adam.deltas(g, [LR, LR])
        w = [wi + di for wi, di in zip(w, deltas)]
        if t % k == 0:
            slow = [s + alpha * (wi - s) for s, wi in zip(slow, w)]
            w = [s.copy() for s in slow]
        reference.append(w)
    assert_close(history, reference)


def embedding_model(optimizer):
    model = keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(10, 4, name="Embedding-Token"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, name="head"),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.parametrize("lazy_outside", [True, False])
def test_lazy_optimization_leaves_unseen_rows_bitwise_unchanged(lazy_outside):
    if lazy_outside:
        cls = extend_with_lazy_optimization(extend_with_weight_decay(Adam))
    else:  # the other stacking order must not let weight decay touch unseen rows
        cls = extend_with_weight_decay(extend_with_lazy_optimization(Adam))
    lazy = embedding_model(cls(0.1, weight_decay_rate=0.1, include_in_lazy_optimization=["Embedding"]))
    plain = embedding_model(extend_with_weight_decay(Adam)(0.1, weight_decay_rate=0.1))
    plain.set_weights(lazy.get_weights())
    step1 = np.array([[1, 2, 3], [1, 2, 2]], "int32"), np.ones((2, 1), "float32")
    step2 = np.array([[4, 5, 4], [5, 5, 4]], "int32"), -np.ones((2, 1), "float32")

    table = lambda model: np.array(model.get_weights()[0])  # noqa: E731
    initial = table(lazy)
    lazy.train_on_batch(*step1)
    plain.train_on_batch(*step1)
    after1 = table(lazy)
    np.testing.assert_allclose(after1[1:4], table(plain)[1:4], rtol=1e-6)  # seen rows: normal Adam
    opt = lazy.optimizer
    embedding_var = lazy.trainable_variables[0]
    slots = [np.array(s) for s in opt._lazy_slots[opt._var_key(embedding_var)]]
    assert len(slots) == 2  # Adam's momentum and velocity

    lazy.train_on_batch(*step2)
    plain.train_on_batch(*step2)
    after2 = table(lazy)
    unseen_ever = [0, 6, 7, 8, 9]
    assert np.array_equal(after2[unseen_ever], initial[unseen_ever])
    assert np.array_equal(after2[1:4], after1[1:4])  # seen in step 1 only: frozen in step 2
    assert not np.array_equal(after2[4:6], after1[4:6])
    for before, slot in zip(slots, opt._lazy_slots[opt._var_key(embedding_var)]):
        assert np.array_equal(np.array(slot)[1:4], before[1:4])
    # Without laziness momentum and decay do move them: the check above can fail.
    assert not np.allclose(table(plain)[1:4], after1[1:4])
    assert not np.allclose(table(plain)[unseen_ever], initial[unseen_ever])


def test_ema_equals_numpy_and_swaps_weights():
    m, steps = 0.9, 5
    xs, ys = data(steps)
    opt = extend_with_exponential_moving_average(Adam)(LR, ema_momentum=m)
    model = dense_model(opt)
    history = train(model, xs, ys)
    average = [np.zeros_like(w) for w in history[0]]  # bert4keras starts the average at zero
    for weights in history:
        average = [m * a + (1 - m) * w for a, w in zip(average, weights)]
    average = [a / (1 - m**steps) for a in average]  # and divides by 1 - m^t when applying it

    opt.apply_ema_weights()
    for got, want in zip(model.get_weights(), average):
        np.testing.assert_allclose(got, want, atol=1e-6)
    opt.reset_old_weights()
    for got, want in zip(model.get_weights(), history[-1]):
        assert np.array_equal(got, want.astype("float32"))
    with pytest.raises(ValueError, match="apply_ema_weights"):
        opt.reset_old_weights()


def test_ema_swap_in_fit_callback_does_not_disturb_training():
    """bert4keras's evaluator pattern: swap EMA in at epoch end, evaluate, swap back."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, D)).astype("float32")
    y = rng.normal(size=(16, U)).astype("float32")
    cls = extend_with_exponential_moving_average(Adam)

    seen = []

    class Evaluator(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.apply_ema_weights()
            seen.append(float(self.model.evaluate(x, y, verbose=0)))
            self.model.optimizer.reset_old_weights()

    with_callback = dense_model(cls(LR, ema_momentum=0.5))
    with_callback.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[Evaluator()])
    without = dense_model(cls(LR, ema_momentum=0.5))
    without.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    for got, want in zip(with_callback.get_weights(), without.get_weights()):
        assert np.array_equal(got, want)  # fit() did not overwrite with the average either
    without.optimizer.apply_ema_weights()
    assert seen[-1] == pytest.approx(float(without.evaluate(x, y, verbose=0)), rel=1e-6)
    assert len(set(seen)) == 3


def test_parameter_wise_lr_equals_scaled_lr():
    xs, ys = data(4)
    cls = extend_with_parameter_wise_lr(Adam)
    scaled = train(dense_model(cls(LR, paramwise_lr_schedule={"layer": 0.3}), name="layer"), xs, ys)
    plain = train(dense_model(Adam(LR * 0.3), name="layer"), xs, ys)
    assert_close(scaled, plain, atol=1e-6)

    # Multipliers of all matching patterns multiply: kernel 0.5*0.4, bias 0.5.
    opt = cls(LR, paramwise_lr_schedule={"layer": 0.5, "kernel": 0.4})
    history = train(dense_model(opt, name="layer"), xs, ys)
    w, adam, reference = initial_weights(), NumpyAdam([(D, U), (U,)]), []
    for x, y in zip(xs, ys):
        w = [wi + di for wi, di in zip(w, adam.deltas(grads(w, x, y), [LR * 0.2, LR * 0.5]))]
        reference.append(w)
    assert_close(history, reference)


def test_gradient_hook_per_tensor_clipping_equals_keras_clipnorm():
    xs, ys = data(3)
    xs = xs * 10  # large gradients so clipping is active

    def clip(gradient, variable):
        norm = ops.sqrt(ops.sum(ops.square(gradient)))
        return gradient * ops.minimum(1.0, 0.1 / norm)

    hooked = train(dense_model(extend_with_gradient_hook(Adam)(LR, gradient_hook=clip)), xs, ys)
    keras_clip = train(dense_model(Adam(LR, clipnorm=0.1)), xs, ys)
    unclipped = train(dense_model(keras.optimizers.SGD(LR)), xs, ys)
    assert_close(hooked, keras_clip, atol=1e-6)
    assert not np.allclose(hooked[-1][0], unclipped[-1][0])


def test_gradient_hook_mask_and_seeded_noise():
    xs, ys = data(3)
    freeze_bias = lambda g, v: ops.zeros_like(g) if v.path.endswith("bias") else g  # noqa: E731
    history = train(
        dense_model(extend_with_gradient_hook(keras.optimizers.SGD)(LR, gradient_hook=freeze_bias)), xs, ys
    )
    np.testing.assert_array_equal(history[-1][1], initial_weights()[1])
    assert not np.array_equal(history[-1][0], initial_weights()[0])

    def run(seed):
        cls = extend_with_gradient_hook(keras.optimizers.SGD)
        opt = cls(LR, seed=seed)
        opt.gradient_hook = lambda g, v: g + 0.01 * keras.random.normal(ops.shape(g), seed=opt.seed_generator)
        return train(dense_model(opt), xs, ys)[-1]

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_lookahead_counts_accumulated_updates_not_micro_batches():
    """Lookahead over 2-step accumulation of batch 4 == Lookahead on batch 8."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, D)).astype("float32")
    y = rng.normal(size=(32, U)).astype("float32")
    stacked = extend_with_lookahead(extend_with_gradient_accumulation(Adam))
    accumulated = dense_model(stacked(LR, grad_accum_steps=2, steps_per_slow_update=3))
    accumulated.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    big = dense_model(extend_with_lookahead(Adam)(LR, steps_per_slow_update=3))
    big.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(accumulated.get_weights(), big.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)
