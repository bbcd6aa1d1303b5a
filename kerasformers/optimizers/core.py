"""bert4keras's own optimizer classes, as thin layers over Keras's.

`Adam` is Keras's Adam with bert4keras's defaults (`epsilon=1e-6`) and its
`bias_correction` switch; `AdaFactor` is Keras's Adafactor under bert4keras's argument
names. Both accept the `lr=` alias.
"""

import keras
from keras import ops

from kerasformers.optimizers.base import pop_learning_rate


def _dense(gradient):
    """TensorFlow passes embedding gradients as IndexedSlices; this formula needs a dense tensor."""
    if hasattr(gradient, "indices") and hasattr(gradient, "dense_shape"):
        import tensorflow as tf

        return tf.convert_to_tensor(gradient)
    return gradient


@keras.saving.register_keras_serializable(package="kerasformers")
class Adam(keras.optimizers.Adam):
    """Adam; `bias_correction=False` drops the `1 - beta^t` corrections (as BERT's
    original AdamWeightDecay did)."""

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-6, bias_correction=True, **kwargs
    ):
        learning_rate, _ = pop_learning_rate(Adam, (learning_rate,) if "lr" not in kwargs else (), kwargs)
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.bias_correction = bias_correction

    def update_step(self, gradient, variable, learning_rate):
        """bert4keras's formula `m_hat / (sqrt(v_hat) + epsilon)`; Keras's Adam adds epsilon
        before the bias correction, which differs while gradients are small."""
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        gradient = ops.cast(_dense(gradient), dtype)
        beta_1, beta_2 = self.beta_1, self.beta_2
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign(m, beta_1 * m + (1 - beta_1) * gradient)
        self.assign(v, beta_2 * v + (1 - beta_2) * ops.square(gradient))
        m_hat, v_hat = ops.convert_to_tensor(m), ops.convert_to_tensor(v)
        if self.bias_correction:
            step = ops.cast(self.iterations + 1, dtype)
            m_hat = m_hat / (1 - ops.power(beta_1, step))
            v_hat = v_hat / (1 - ops.power(beta_2, step))
        self.assign_sub(variable, ops.cast(learning_rate, dtype) * m_hat / (ops.sqrt(v_hat) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config["bias_correction"] = self.bias_correction
        return config


@keras.saving.register_keras_serializable(package="kerasformers")
class AdaFactor(keras.optimizers.Adafactor):
    """Adafactor (Shazeer & Stern 2018) with bert4keras's argument names.

    Keras's implementation has no first moment, always factors rank >= 2 variables,
    always scales by the parameter RMS and uses `beta2_t = 1 - t^-0.8`; bert4keras
    arguments that would ask for something else raise instead of being ignored.
    `learning_rate=None` means the relative step size `min(0.01, 1/sqrt(t))`.
    """

    def __init__(
        self,
        *args,
        beta1=0.0,
        beta2=None,
        epsilon1=1e-30,
        epsilon2=1e-3,
        multiply_by_parameter_scale=True,
        clipping_threshold=1.0,
        min_dim_size_to_factor=None,
        exclude_from_parameter_scale=None,
        **kwargs,
    ):
        unsupported = {
            "beta1": (beta1, lambda x: x in (0, 0.0, None)),
            "beta2": (beta2, lambda x: x is None),
            "multiply_by_parameter_scale": (multiply_by_parameter_scale, lambda x: x is True),
            "min_dim_size_to_factor": (min_dim_size_to_factor, lambda x: x is None),
            "exclude_from_parameter_scale": (exclude_from_parameter_scale, lambda x: not x),
        }
        for argument, (value, ok) in unsupported.items():
            if not ok(value):
                raise ValueError(
                    f"AdaFactor({argument}={value!r}) is not supported: it runs on "
                    "keras.optimizers.Adafactor, which has no such option."
                )
        learning_rate, args = pop_learning_rate(keras.optimizers.Adafactor, args, kwargs)
        relative_step = learning_rate is None
        if relative_step:
            learning_rate = 0.01
        kwargs.setdefault("epsilon_1", epsilon1)
        kwargs.setdefault("epsilon_2", epsilon2)
        kwargs.setdefault("clip_threshold", clipping_threshold)
        kwargs.setdefault("relative_step", relative_step)
        super().__init__(learning_rate, *args, **kwargs)


AdaFactorBase = AdaFactorV1 = AdaFactorV2 = AdaFactor


@keras.saving.register_keras_serializable(package="kerasformers")
class Lion(keras.optimizers.Lion):
    """Lion (Chen et al. 2023, arXiv:2302.06675) with bert4keras's defaults: learning rate 3e-4,
    `beta_1=0.95`, `beta_2=0.98`. The update `-lr * sign(beta_1 m + (1 - beta_1) g)` is Keras's."""

    def __init__(self, learning_rate=3e-4, beta_1=0.95, beta_2=0.98, **kwargs):
        learning_rate, _ = pop_learning_rate(Lion, (learning_rate,) if "lr" not in kwargs else (), kwargs)
        super().__init__(learning_rate, beta_1, beta_2, **kwargs)


LionV2 = Lion
