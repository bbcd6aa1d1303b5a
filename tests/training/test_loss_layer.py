"""The Loss-layer pattern: labels enter as inputs, the loss is added inside the graph."""

import keras
import numpy as np
from keras import ops

from kerasformers.layers import Loss


class MaskedMSE(Loss):
    """Mean squared error over steps where the mask input is 1."""

    def compute_loss(self, inputs, mask=None):
        y_true, y_pred, weights = inputs
        return ops.sum(ops.square(y_true - y_pred) * weights) / ops.sum(weights)


def _model():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((4,))
    y_in = keras.Input((2,))
    w_in = keras.Input((2,))
    y_pred = keras.layers.Dense(2, name="dense")(x_in)
    out = MaskedMSE(output_axis=1, name="loss")([y_in, y_pred, w_in])
    model = keras.Model([x_in, y_in, w_in], out)
    return model


def test_loss_layer_value_output_and_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = (x[:, :2] * 2).astype("float32")
    w = (rng.random((16, 2)) < 0.7).astype("float32")
    model = _model()
    pred = ops.convert_to_numpy(model([x, y, w]))
    np.testing.assert_allclose(pred, ops.convert_to_numpy(model.get_layer("dense")(x)), rtol=1e-6)
    (loss,) = [ops.convert_to_numpy(l) for l in model.losses]
    np.testing.assert_allclose(float(loss), ((y - pred) ** 2 * w).sum() / w.sum(), rtol=1e-5)

    model.compile(keras.optimizers.Adam(0.05))  # no loss argument: the layer supplies it
    history = model.fit([x, y, w], epochs=80, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_loss_layer_output_axis_and_config():
    layer = MaskedMSE(output_axis=[0, 2])
    assert layer.compute_output_shape([(None, 2), (None, 3), (None, 4)]) == [(None, 2), (None, 4)]
    assert MaskedMSE.from_config(layer.get_config()).output_axis == [0, 2]
    assert Loss(output_axis=None).compute_output_shape((None, 5)) == (None, 5)
