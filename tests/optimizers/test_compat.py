"""bert4keras's names, arguments and class-naming trick; serialization; clear errors."""

import keras
import numpy as np
import pytest

import kerasformers.optimizers as kf_optimizers
from kerasformers.optimizers import (
    AdaFactor,
    Adam,
    PiecewiseLinearSchedule,
    extend_with_exponential_moving_average,
    extend_with_gradient_accumulation,
    extend_with_layer_adaptation,
    extend_with_lazy_optimization,
    extend_with_lookahead,
    extend_with_parameter_wise_lr,
    extend_with_piecewise_linear_lr,
    extend_with_weight_decay,
)

BERT4KERAS_NAMES = [
    "Adam",
    "AdaFactor",
    "extend_with_weight_decay",
    "extend_with_piecewise_linear_lr",
    "extend_with_gradient_accumulation",
    "extend_with_lookahead",
    "extend_with_lazy_optimization",
    "extend_with_exponential_moving_average",
    "extend_with_parameter_wise_lr",
    "extend_with_layer_adaptation",
    "extend_with_weight_decay_v2",
    "extend_with_piecewise_linear_lr_v2",
]


def test_bert4keras_names_are_exported():
    missing = [name for name in BERT4KERAS_NAMES if not hasattr(kf_optimizers, name)]
    assert missing == []


def everything():
    """The kitchen sink, stacked the way bert4keras scripts stack them."""
    cls = extend_with_weight_decay(Adam)
    cls = extend_with_layer_adaptation(cls)
    cls = extend_with_piecewise_linear_lr(cls)
    cls = extend_with_gradient_accumulation(cls)
    cls = extend_with_lookahead(cls)
    cls = extend_with_lazy_optimization(cls)
    cls = extend_with_exponential_moving_average(cls)
    return extend_with_parameter_wise_lr(cls, name="KitchenSinkAdam")


def kitchen_sink_optimizer():
    return everything()(
        lr=1e-3,
        weight_decay_rate=0.01,
        exclude_from_weight_decay=["Norm", "bias"],
        exclude_from_layer_adaptation=["bias"],
        lr_schedule={2: 1.0, 10: 0.1},
        grad_accum_steps=2,
        steps_per_slow_update=3,
        slow_step_size=0.5,
        include_in_lazy_optimization=["Embedding"],
        ema_momentum=0.9,
        paramwise_lr_schedule={"Embedding": 0.5},
    )


def test_bert4keras_constructor_arguments_map_onto_keras_features():
    opt = kitchen_sink_optimizer()
    assert type(opt).__name__ == "KitchenSinkAdam"
    assert keras.saving.get_custom_objects()["KitchenSinkAdam"] is type(opt)
    assert opt.gradient_accumulation_steps == 2  # Keras's own accumulation
    assert not opt.use_ema and opt.ema_momentum == 0.9  # bert4keras's zero-started average, not Keras's
    assert opt.weight_decay == 0.01  # Keras's weight_decay attribute
    assert isinstance(opt._learning_rate, PiecewiseLinearSchedule)
    assert opt.lr_schedule == {2: 1.0, 10: 0.1}
    assert opt.epsilon == 1e-6  # bert4keras's Adam default


def test_config_round_trip_rebuilds_the_same_optimizer():
    opt = kitchen_sink_optimizer()
    config = opt.get_config()
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(restored) is type(opt) and restored.get_config() == config


def tiny_model(optimizer):
    model = keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(7, 4, name="Embedding-Token"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, name="Output"),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def test_saved_model_resumes_training_identically(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, size=(16, 3)).astype("int32")
    y = rng.normal(size=(16, 2)).astype("float32")
    model = tiny_model(kitchen_sink_optimizer())
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer).__name__ == "KitchenSinkAdam"
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_learning_rate_aliases():
    assert float(Adam(lr=2).learning_rate) == 2.0  # int accepted, `lr` alias
    cls = extend_with_weight_decay(keras.optimizers.SGD)
    assert float(cls(0.25).learning_rate) == 0.25  # positional
    assert float(cls(lr=0.5).learning_rate) == 0.5
    assert float(cls().learning_rate) == pytest.approx(0.01)  # SGD's own default
    with pytest.raises(TypeError, match="either `lr` or `learning_rate`"):
        cls(learning_rate=0.1, lr=0.2)


def test_adam_without_bias_correction_equals_numpy():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-6
    w = keras.Variable(np.array([1.0, -2.0, 3.0], "float32"))
    opt = Adam(lr, bias_correction=False)
    m = v = np.zeros(3)
    ref = np.array([1.0, -2.0, 3.0])
    for g in ([0.5, -1.0, 2.0], [0.1, 0.2, -0.3], [1.0, 1.0, 1.0]):
        g = np.array(g)
        opt.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [w])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        ref = ref - lr * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), ref, rtol=1e-5)


def test_adafactor_bert4keras_arguments():
    opt = AdaFactor(learning_rate=1e-3, epsilon1=1e-29, epsilon2=2e-3, clipping_threshold=0.5)
    reference = keras.optimizers.Adafactor(
        1e-3, epsilon_1=1e-29, epsilon_2=2e-3, clip_threshold=0.5, relative_step=False
    )
    assert (opt.epsilon_1, opt.epsilon_2, opt.clip_threshold, opt.relative_step) == (1e-29, 2e-3, 0.5, False)
    assert AdaFactor(learning_rate=None).relative_step
    variables = [keras.Variable(np.ones((3, 2), "float32")) for _ in range(2)]
    gradient = keras.ops.convert_to_tensor(np.arange(6, dtype="float32").reshape(3, 2))
    for _ in range(3):
        opt.apply([gradient], [variables[0]])
        reference.apply([gradient], [variables[1]])
    np.testing.assert_array_equal(np.asarray(variables[0]), np.asarray(variables[1]))
    assert not np.array_equal(np.asarray(variables[0]), np.ones((3, 2)))
    with pytest.raises(ValueError, match="beta1"):
        AdaFactor(beta1=0.9)
    assert keras.optimizers.deserialize(keras.optimizers.serialize(opt)).get_config() == opt.get_config()


def test_piecewise_schedule_serializes():
    schedule = PiecewiseLinearSchedule(0.1, {5: 1.0, 10: 0.0})
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    for step in (0, 3, 5, 7, 12):
        assert float(clone(step)) == pytest.approx(float(schedule(step)))
    assert float(schedule(3)) == pytest.approx(0.1 * 3 / 5)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: extend_with_weight_decay(object), TypeError, "Keras optimizer class"),
        (
            lambda: extend_with_weight_decay(Adam)(exclude_from_weight_decay="bias"),
            TypeError,
            "exclude_from_weight_decay",
        ),
        (
            lambda: extend_with_lazy_optimization(Adam)(include_in_lazy_optimization="Emb"),
            TypeError,
            "include_in_lazy",
        ),
        (lambda: extend_with_gradient_accumulation(Adam)(grad_accum_steps=0), ValueError, "grad_accum_steps"),
        (lambda: extend_with_piecewise_linear_lr(Adam)(lr_schedule={}), ValueError, "lr_schedule"),
        (lambda: extend_with_lookahead(Adam)(steps_per_slow_update=0), ValueError, "steps_per_slow_update"),
        (lambda: extend_with_lookahead(Adam)(slow_step_size=2.0), ValueError, "slow_step_size"),
        (
            lambda: extend_with_parameter_wise_lr(Adam)(paramwise_lr_schedule={"a": "x"}),
            TypeError,
            "paramwise",
        ),
        (
            lambda: extend_with_exponential_moving_average(Adam)().apply_ema_weights(),
            ValueError,
            "not been built",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_grad_accum_steps_one_means_no_accumulation():
    opt = extend_with_gradient_accumulation(Adam)(grad_accum_steps=1)
    assert opt.gradient_accumulation_steps is None
