"""bert4keras ``backend`` helpers against NumPy."""

import numpy as np
from keras import ops

from kerasformers.backend import K, batch_gather, piecewise_linear, search_layer, sequence_masking, set_gelu


def test_sequence_masking_on_axis_1_and_2():
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    out = ops.convert_to_numpy(sequence_masking(x, mask, value="-inf"))
    assert out[0, 2].max() == -1e12 and out[1, 1:].max() == -1e12
    np.testing.assert_array_equal(out[0, :2], x[0, :2])
    y = np.ones((2, 4, 3), "float32")
    out = ops.convert_to_numpy(sequence_masking(y, mask, value=0, axis=2))
    np.testing.assert_array_equal(out[1], np.tile([1, 0, 0], (4, 1)))


def test_batch_gather_and_piecewise_linear():
    params = np.arange(24, dtype="float32").reshape(2, 4, 3)
    indices = np.array([[3, 0], [1, 1]])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(batch_gather(params, indices)), np.stack([params[0, [3, 0]], params[1, [1, 1]]])
    )
    schedule = {100: 1.0, 200: 0.1}
    values = [float(ops.convert_to_numpy(piecewise_linear(t, schedule))) for t in (0, 50, 100, 150, 200, 999)]
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 0.55, 0.1, 0.1], atol=1e-6)


def test_k_namespace_and_search_layer():
    assert K.epsilon() > 0 and K.int_shape(np.zeros((2, 3))) == (2, 3)
    np.testing.assert_array_equal(K.eval(ops.ones((2,))), [1.0, 1.0])
    import keras

    x = keras.Input((4,))
    h = keras.layers.Dense(3, name="first")(x)
    y = keras.layers.Dense(2, name="second")(h)
    assert search_layer(y, "first").name == "first"
    assert search_layer(y, "missing") is None


def test_set_gelu_changes_the_alias():
    from kerasformers.layers import get_activation

    x = np.array([0.5, -1.3], "float32")
    try:
        set_gelu("tanh")
        tanh_version = ops.convert_to_numpy(get_activation("gelu")(x))
    finally:
        set_gelu("erf")
    erf_version = ops.convert_to_numpy(get_activation("gelu")(x))
    assert np.abs(tanh_version - erf_version).max() > 1e-5
