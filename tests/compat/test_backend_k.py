"""``K`` behaves like Keras 2's backend (bert4keras's ``K``) on the current Keras 3 backend.

The expected values were recorded from Keras 2 itself by make_k_fixture.py (``make oracle``).
"""

import os

import numpy as np
import pytest
from keras import ops

from kerasformers import backend, layers
from kerasformers.backend import K
from tests.compat.k_cases import BERT4KERAS_CASES, CASES, make_bert4keras_inputs, make_inputs

EXPECTED = np.load(os.path.join(os.path.dirname(__file__), "k_expected.npz"))


def test_every_case_was_recorded():
    assert sorted(EXPECTED.files) == sorted([*CASES, *("bert4keras_" + n for n in BERT4KERAS_CASES)])


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_keras2(name):
    inputs = {key: ops.convert_to_tensor(value) for key, value in make_inputs().items()}
    got = np.asarray(ops.convert_to_numpy(CASES[name](K, inputs)))
    want = EXPECTED[name]
    assert got.shape == want.shape, f"K case {name}: shape {got.shape}, Keras 2 gives {want.shape}"
    np.testing.assert_allclose(
        got.astype("float64"), want.astype("float64"), rtol=1e-5, atol=1e-5, err_msg=f"K case {name}"
    )


@pytest.mark.parametrize("name", sorted(BERT4KERAS_CASES))
def test_backend_helpers_and_layers_match_bert4keras(name):
    """bert4keras's own backend functions and the layers scripts build by hand."""
    inputs = {key: ops.convert_to_tensor(value) for key, value in make_bert4keras_inputs().items()}
    got = np.asarray(ops.convert_to_numpy(BERT4KERAS_CASES[name](backend, layers, inputs)))
    want = EXPECTED["bert4keras_" + name]
    assert got.shape == want.shape, f"{name}: shape {got.shape}, bert4keras gives {want.shape}"
    np.testing.assert_allclose(
        got.astype("float64"), want.astype("float64"), rtol=1e-5, atol=1e-5, err_msg=name
    )


def test_graph_only_names_explain_the_replacement():
    with pytest.raises(AttributeError, match="keras.Input"):
        _ = K.placeholder
    with pytest.raises(AttributeError, match="adversarial_training.*integrated_gradients"):
        _ = K.gradients
    with pytest.raises(AttributeError, match="no Keras 3 equivalent"):
        _ = K.definitely_not_a_backend_function


def test_variables_round_trip_through_set_and_batch_get_value():
    import keras

    v = keras.Variable(np.zeros((2, 2), "float32"))
    K.set_value(v, np.ones((2, 2)))
    K.batch_set_value([(v, K.get_value(v) * 3)])
    np.testing.assert_array_equal(K.batch_get_value([v])[0], np.full((2, 2), 3.0))
    K.update_add(v, np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(K.eval(v), np.full((2, 2), 4.0))
