"""Optimizers: bert4keras's names on Keras 3.

from kerasformers.optimizers import Adam, extend_with_weight_decay
AdamW = extend_with_weight_decay(Adam, name="AdamW")
optimizer = AdamW(learning_rate=2e-5, weight_decay_rate=0.01,
                  exclude_from_weight_decay=["Norm", "bias"])
"""

import keras

from kerasformers.optimizers.base import ExtendedOptimizer
from kerasformers.optimizers.core import (
    AdaFactor,
    AdaFactorBase,
    AdaFactorV1,
    AdaFactorV2,
    Adam,
    Lion,
    LionV2,
)
from kerasformers.optimizers.extensions import (
    extend_with_exponential_moving_average,
    extend_with_gradient_accumulation,
    extend_with_gradient_hook,
    extend_with_layer_adaptation,
    extend_with_lazy_optimization,
    extend_with_lookahead,
    extend_with_parameter_wise_lr,
    extend_with_piecewise_linear_lr,
    extend_with_weight_decay,
)
from kerasformers.optimizers.schedules import PiecewiseLinearSchedule, piecewise_linear


def export_to_custom_objects(base_extend_with):
    """bert4keras decorator: register each optimizer class ``extend_with(Base)`` returns under its
    name. Every ``extend_with_*`` here already registers its class; this serves user extensions."""

    def new_extend_with(BaseOptimizer, name=None):
        cls = base_extend_with(BaseOptimizer)
        if name is not None:
            cls.__name__ = cls.__qualname__ = name
        keras.saving.get_custom_objects()[cls.__name__] = cls
        return cls

    return new_extend_with


# bert4keras exported a `_v2` (tf.keras OptimizerV2) twin of every factory; on Keras 3
# there is one optimizer API, so the twins are the same functions.
extend_with_weight_decay_v2 = extend_with_weight_decay
extend_with_layer_adaptation_v2 = extend_with_layer_adaptation
extend_with_piecewise_linear_lr_v2 = extend_with_piecewise_linear_lr
extend_with_gradient_accumulation_v2 = extend_with_gradient_accumulation
extend_with_lookahead_v2 = extend_with_lookahead
extend_with_lazy_optimization_v2 = extend_with_lazy_optimization
extend_with_exponential_moving_average_v2 = extend_with_exponential_moving_average
extend_with_parameter_wise_lr_v2 = extend_with_parameter_wise_lr
extend_with_gradient_hook_v2 = extend_with_gradient_hook

__all__ = [
    "AdaFactor",
    "AdaFactorBase",
    "AdaFactorV1",
    "AdaFactorV2",
    "Adam",
    "ExtendedOptimizer",
    "Lion",
    "LionV2",
    "PiecewiseLinearSchedule",
    "export_to_custom_objects",
    "extend_with_exponential_moving_average",
    "extend_with_exponential_moving_average_v2",
    "extend_with_gradient_accumulation",
    "extend_with_gradient_accumulation_v2",
    "extend_with_gradient_hook",
    "extend_with_gradient_hook_v2",
    "extend_with_layer_adaptation",
    "extend_with_layer_adaptation_v2",
    "extend_with_lazy_optimization",
    "extend_with_lazy_optimization_v2",
    "extend_with_lookahead",
    "extend_with_lookahead_v2",
    "extend_with_parameter_wise_lr",
    "extend_with_parameter_wise_lr_v2",
    "extend_with_piecewise_linear_lr",
    "extend_with_piecewise_linear_lr_v2",
    "extend_with_weight_decay",
    "extend_with_weight_decay_v2",
    "piecewise_linear",
]
