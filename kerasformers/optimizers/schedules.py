"""Piecewise-linear learning-rate multiplier, bert4keras's `lr_schedule={step: multiplier}`.

`{1000: 1, 2000: 0.1}` means: warm up linearly from 0 to 1 over steps [0, 1000], decay
linearly to 0.1 over [1000, 2000], then stay at 0.1. The multiplier scales the base
learning rate, so it is also a plain Keras `LearningRateSchedule`.
"""

import keras
from keras import ops


def _knots(schedule, from_zero=True):
    """Sorted `(step, value)` pairs; prepends `(0, 0.0)` for warm-up when asked."""
    if not isinstance(schedule, dict) or not schedule:
        raise ValueError(f"lr_schedule must be a non-empty dict {{step: multiplier}}, got {schedule!r}")
    knots = sorted((int(step), float(value)) for step, value in schedule.items())
    if knots[0][0] < 0:
        raise ValueError(f"lr_schedule steps must be >= 0, got {knots[0][0]}")
    if from_zero and knots[0][0] != 0:
        knots = [(0, 0.0)] + knots
    return knots


def piecewise_linear(t, schedule, from_zero=True):
    """Value at step `t` of the piecewise-linear function through `schedule`'s knots.

    Before the first knot the first value holds; after the last knot the last value holds.
    Works on Python numbers and on backend tensors (it is traced inside `model.fit`).
    """
    knots = _knots(schedule, from_zero)
    t = ops.cast(t, "float32")
    value = ops.full_like(t, knots[0][1])
    for (t0, v0), (t1, v1) in zip(knots[:-1], knots[1:]):
        segment = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        value = ops.where(t >= t0, segment, value)
    return ops.where(t >= knots[-1][0], ops.full_like(t, knots[-1][1]), value)


@keras.saving.register_keras_serializable(package="kerasformers")
class PiecewiseLinearSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate * piecewise_linear(step, schedule)`.

    `learning_rate` may itself be a schedule, so the multiplier composes with any decay.
    """

    def __init__(self, learning_rate, schedule, from_zero=True):
        self.learning_rate = learning_rate
        self.schedule = {int(k): float(v) for k, v in schedule.items()}
        self.from_zero = from_zero
        _knots(self.schedule, from_zero)  # validate early, with a clear message

    def __call__(self, step):
        base = self.learning_rate
        if callable(base):
            base = base(step)
        return ops.cast(base, "float32") * piecewise_linear(step, self.schedule, self.from_zero)

    def get_config(self):
        base = self.learning_rate
        if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
            base = keras.saving.serialize_keras_object(base)
        return {
            "learning_rate": base,
            # JSON object keys are strings; __init__ turns them back into ints.
            "schedule": {str(k): v for k, v in self.schedule.items()},
            "from_zero": self.from_zero,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["learning_rate"], dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(config["learning_rate"])
        return cls(**config)
