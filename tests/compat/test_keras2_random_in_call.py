"""Keras 2's ``K.random_*`` and ``K.in_train_phase`` inside a layer's ``call``, as bert4keras's
BERT-of-Theseus example writes them (no seed, no ``training`` argument), on every backend.

Keras 2 drew new numbers at every training step and switched on the learning phase that ``fit`` /
``predict`` set. On JAX an unseeded random op used to fail while tracing ("[JAX RNG]").
"""

import keras
import numpy as np
import pytest

from kerasformers.backend import K


class BinaryRandomChoice(keras.layers.Layer):
    def call(self, inputs):
        source, target = inputs
        mask = K.random_binomial(shape=[1], p=0.5)
        return K.in_train_phase(mask * source + (1 - mask) * target, target)


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.means = []

    def on_train_batch_end(self, batch, logs=None):
        self.means.append(float(logs["loss"]))


def _model():
    source, target = keras.Input((1,)), keras.Input((1,))
    output = BinaryRandomChoice()([source, target])
    model = keras.Model([source, target], keras.layers.Dense(1, kernel_initializer="ones")(output))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=lambda y, p: keras.ops.mean(p))
    return model


def test_unseeded_random_choice_in_call_changes_every_step_and_only_in_training():
    keras.utils.set_random_seed(1)
    model = _model()
    record = Record()
    x = [np.ones((1, 1)), np.zeros((1, 1))]  # source 1, target 0: the output says which was chosen
    model.fit(
        [np.repeat(a, 40, 0) for a in x], np.zeros((40, 1)), batch_size=1, verbose=0, callbacks=[record]
    )
    # Running means of the per-step choice; recover each step's choice from them.
    means = np.array(record.means)
    choices = np.rint(means * np.arange(1, 41) - np.concatenate([[0], means[:-1] * np.arange(1, 40)]))
    assert set(choices) == {0.0, 1.0}, choices  # both branches drawn: the draw is not frozen at tracing
    assert 8 <= choices.sum() <= 32, choices  # p = 0.5
    # predict / evaluate / a plain call are the test phase: always the target (Keras 2's phase 0).
    assert np.all(model.predict(x, verbose=0) == 0)
    assert np.all(keras.ops.convert_to_numpy(model(x)) == 0)


def test_random_state_is_a_model_variable_on_jax():
    if keras.backend.backend() != "jax":
        pytest.skip("other backends keep Keras's global seed generator")
    model = _model()
    paths = [v.path for v in model.non_trainable_variables]
    assert len(paths) == 1 and paths[0].endswith("/keras2_seed_generator/seed_generator_state"), paths


def test_in_train_phase_takes_an_explicit_flag_and_needs_one_outside_a_call():
    assert K.in_train_phase(1, 2, training=True) == 1
    assert K.in_train_phase(lambda: 1, lambda: 2, training=False) == 2
    with pytest.raises(ValueError, match="training=True/False"):
        K.in_train_phase(1, 2)


def test_random_binomial_is_keras2s_bernoulli():
    keras.utils.set_random_seed(3)
    draws = keras.ops.convert_to_numpy(K.random_binomial((4000,), p=0.3))
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert draws.mean() == pytest.approx(0.3, abs=0.03)
    assert keras.backend.standardize_dtype(K.random_bernoulli((2,), 0.5).dtype) == "float32"
