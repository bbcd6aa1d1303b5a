"""bert4keras's `extend_with_*` optimizer factories, on Keras 3.

Each takes a Keras optimizer class and returns a subclass; they stack, e.g.
`extend_with_lookahead(extend_with_weight_decay(Adam))`. Constructor keyword
arguments keep bert4keras's names. Where Keras has the feature built in (gradient
accumulation, EMA, decoupled weight decay) the extension only translates arguments.
The optional `name=` names the class and registers it for deserialization.
"""

import keras
from keras import ops

from kerasformers.optimizers.base import check_patterns, extend, matches_any, pop_learning_rate
from kerasformers.optimizers.schedules import PiecewiseLinearSchedule


def extend_with_weight_decay(BaseOptimizer, name=None):
    """Decoupled weight decay `w -= lr * weight_decay_rate * w` (AdamW), skipping
    variables whose path matches any regex in `exclude_from_weight_decay`
    (e.g. `["Norm", "bias"]`). Maps onto Keras's `weight_decay` + exclusion rules."""

    def body(base):
        class WeightDecay(base):
            def __init__(self, *args, weight_decay_rate=0.01, exclude_from_weight_decay=None, **kwargs):
                patterns = check_patterns("exclude_from_weight_decay", exclude_from_weight_decay)
                kwargs["weight_decay"] = weight_decay_rate
                super().__init__(*args, **kwargs)
                self.weight_decay_rate = weight_decay_rate
                self.exclude_patterns = patterns
                # Keras's method (bert4keras's argument of the same name was popped above).
                self.exclude_from_weight_decay(var_names=patterns)

            def get_config(self):
                config = super().get_config()
                config["weight_decay_rate"] = config.pop("weight_decay")
                config["exclude_from_weight_decay"] = self.exclude_patterns
                return config

        return WeightDecay

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithWeightDecay")


def extend_with_layer_adaptation(BaseOptimizer, name=None):
    """LAMB's trust ratio: each variable's update u (everything inner extensions
    produced, weight decay included) becomes `u * ||w|| / ||u / lr||`, so the step size
    is `lr` relative to the weight norm. Variables matching
    `exclude_from_layer_adaptation` keep the plain update."""

    def body(base):
        class LayerAdaptation(base):
            def __init__(self, *args, exclude_from_layer_adaptation=None, **kwargs):
                patterns = check_patterns("exclude_from_layer_adaptation", exclude_from_layer_adaptation)
                super().__init__(*args, **kwargs)
                self.exclude_from_layer_adaptation = patterns

            def transform_update(self, old, new, variable, learning_rate):
                new = super().transform_update(old, new, variable, learning_rate)
                if matches_any(variable, self.exclude_from_layer_adaptation):
                    return new
                eps = keras.config.epsilon()
                update = new - old
                lr = ops.clip(ops.cast(learning_rate, update.dtype), eps, 1e10)
                weight_norm = ops.sqrt(ops.sum(ops.square(old)))
                update_norm = ops.sqrt(ops.sum(ops.square(update / lr)))
                # ratio 1 for all-zero weights (fresh biases) or a vanishing update.
                safe_update_norm = ops.where(update_norm > eps, update_norm, 1.0)
                ratio = ops.where(
                    (weight_norm > 0) & (update_norm > eps), weight_norm / safe_update_norm, 1.0
                )
                return old + update * ratio

            def get_config(self):
                config = super().get_config()
                config["exclude_from_layer_adaptation"] = self.exclude_from_layer_adaptation
                return config

        return LayerAdaptation

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithLayerAdaptation")


def extend_with_piecewise_linear_lr(BaseOptimizer, name=None):
    """Learning rate times `piecewise_linear(step, lr_schedule)`, e.g.
    `lr_schedule={1000: 1, 2000: 0.1}` (warm-up then decay). Implemented as a
    `PiecewiseLinearSchedule`, i.e. a Keras `LearningRateSchedule`."""

    def body(base):
        class PiecewiseLinearLR(base):
            def __init__(self, *args, lr_schedule=None, **kwargs):
                learning_rate, args = pop_learning_rate(type(self), args, kwargs)
                schedule = {0: 1.0} if lr_schedule is None else lr_schedule
                learning_rate = PiecewiseLinearSchedule(learning_rate, schedule)
                super().__init__(learning_rate, *args, **kwargs)
                self.lr_schedule = learning_rate.schedule

            def get_config(self):
                config = super().get_config()
                # Store the base learning rate; __init__ re-wraps it.
                inner = self._learning_rate.learning_rate
                if isinstance(inner, keras.optimizers.schedules.LearningRateSchedule):
                    inner = keras.optimizers.schedules.serialize(inner)
                config["learning_rate"] = inner
                config["lr_schedule"] = {str(k): v for k, v in self.lr_schedule.items()}
                return config

        return PiecewiseLinearLR

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithPiecewiseLinearLR")


def extend_with_gradient_accumulation(BaseOptimizer, name=None):
    """Update every `grad_accum_steps` batches with the mean gradient: n steps of
    batch b equal one step of batch n*b. Keras's `gradient_accumulation_steps`."""

    def body(base):
        class GradientAccumulation(base):
            def __init__(self, *args, grad_accum_steps=2, **kwargs):
                if kwargs.get("gradient_accumulation_steps") is not None:
                    grad_accum_steps = kwargs["gradient_accumulation_steps"]
                if not isinstance(grad_accum_steps, int) or grad_accum_steps < 1:
                    raise ValueError(f"grad_accum_steps must be an integer >= 1, got {grad_accum_steps!r}")
                # Keras wants >= 2 or None; 1 simply means "no accumulation".
                kwargs["gradient_accumulation_steps"] = grad_accum_steps if grad_accum_steps > 1 else None
                super().__init__(*args, **kwargs)
                self.grad_accum_steps = grad_accum_steps

            def get_config(self):
                config = super().get_config()
                config.pop("gradient_accumulation_steps")
                config["grad_accum_steps"] = self.grad_accum_steps
                return config

        return GradientAccumulation

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithGradientAccumulation")


def extend_with_lookahead(BaseOptimizer, name=None):
    """Lookahead (Zhang et al. 2019): slow weights start at the initial weights; every
    `steps_per_slow_update` steps, `slow += slow_step_size * (fast - slow)` and the fast
    weights jump to `slow`."""

    def body(base):
        class Lookahead(base):
            def __init__(self, *args, steps_per_slow_update=5, slow_step_size=0.5, **kwargs):
                if not isinstance(steps_per_slow_update, int) or steps_per_slow_update < 1:
                    raise ValueError(
                        f"steps_per_slow_update must be an integer >= 1, got {steps_per_slow_update!r}"
                    )
                if not 0.0 <= slow_step_size <= 1.0:
                    raise ValueError(f"slow_step_size must be in [0, 1], got {slow_step_size!r}")
                super().__init__(*args, **kwargs)
                self.steps_per_slow_update = steps_per_slow_update
                self.slow_step_size = slow_step_size

            def build(self, variables):
                if self.built:
                    return
                super().build(variables)
                self._slow_weights = self.add_optimizer_variables(variables, "slow")

            def _backend_update_step(self, grads, trainable_variables, learning_rate):
                def slow_of(variable):
                    return self._slow_weights[self._get_variable_index(variable)]

                def read(variables):
                    return [ops.convert_to_tensor(v) for v in variables]

                fasts = [v for v in trainable_variables if slow_of(v) is not None]
                slows = [slow_of(v) for v in fasts]
                # `iterations` counts real (post-accumulation) updates, before this one.
                # Slow weights copy the weights at the very first update, so weights
                # loaded after build() are honoured. Pure cond branches (no assigns
                # inside) keep this valid in JAX's stateless step.
                first = ops.equal(self.iterations, 0)
                initial = ops.cond(first, lambda: read(fasts), lambda: read(slows))
                for slow, value in zip(slows, initial):
                    self.assign(slow, value)
                super()._backend_update_step(grads, trainable_variables, learning_rate)

                def synced():
                    alpha = self.slow_step_size
                    moved = [s + alpha * (f - s) for f, s in zip(read(fasts), read(slows))]
                    return moved, moved

                sync = ops.equal((self.iterations + 1) % self.steps_per_slow_update, 0)
                new_fasts, new_slows = ops.cond(sync, synced, lambda: (read(fasts), read(slows)))
                for variable, slow, fast_value, slow_value in zip(fasts, slows, new_fasts, new_slows):
                    self.assign(variable, fast_value)
                    self.assign(slow, slow_value)

            def get_config(self):
                config = super().get_config()
                config["steps_per_slow_update"] = self.steps_per_slow_update
                config["slow_step_size"] = self.slow_step_size
                return config

        return Lookahead

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithLookahead")


def extend_with_lazy_optimization(BaseOptimizer, name=None):
    """For variables matching `include_in_lazy_optimization` (e.g. `["Embedding"]`),
    rows whose gradient is all zero in a step stay bitwise unchanged: no momentum
    drift, no weight decay, and their optimizer slots (momentum, velocity) are frozen
    too, like LazyAdam. A row is a slice along the last axis."""

    def body(base):
        class LazyOptimization(base):
            def __init__(self, *args, include_in_lazy_optimization=None, **kwargs):
                patterns = check_patterns("include_in_lazy_optimization", include_in_lazy_optimization)
                super().__init__(*args, **kwargs)
                self.include_in_lazy_optimization = patterns

            def lazy_row_mask(self, gradient, variable):
                mask = super().lazy_row_mask(gradient, variable)
                if mask is not None or not matches_any(variable, self.include_in_lazy_optimization):
                    return mask
                touched = ops.not_equal(ops.convert_to_tensor(gradient), 0)
                if len(variable.shape) < 2:
                    return touched
                return ops.any(touched, axis=-1, keepdims=True)  # (..., rows, 1)

            def get_config(self):
                config = super().get_config()
                config["include_in_lazy_optimization"] = self.include_in_lazy_optimization
                return config

        return LazyOptimization

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithLazyOptimization")


def extend_with_exponential_moving_average(BaseOptimizer, name=None):
    """Keep an EMA of the weights, as bert4keras does: the average starts at zero and after
    every real update becomes `m * average + (1 - m) * weights`. `apply_ema_weights()` swaps
    the average into the model (keeping a copy), divided by `1 - m^steps` unless
    `bias_correction=False`; `reset_old_weights()` swaps back. `fit()` never swaps by itself.

    Keras's own `use_ema` starts the average at the first step's weights instead, which
    after 1000 steps at m=0.999 still gives that first step 36.8% of the weight (0.06% here).
    """

    def body(base):
        class ExponentialMovingAverage(base):
            def __init__(self, *args, ema_momentum=0.999, **kwargs):
                if kwargs.pop("use_ema", False):
                    raise ValueError(
                        "extend_with_exponential_moving_average keeps its own average; "
                        "do not also pass use_ema=True"
                    )
                if not 0.0 <= ema_momentum < 1.0:
                    raise ValueError(f"ema_momentum must be in [0, 1), got {ema_momentum!r}")
                super().__init__(*args, **kwargs)
                self.ema_momentum = ema_momentum
                self._old_weights = None  # host copies saved by apply_ema_weights()

            def build(self, variables):
                if self.built:
                    return
                super().build(variables)
                self._ema_weights = self.add_optimizer_variables(variables, "ema")  # zeros

            def _backend_update_step(self, grads, trainable_variables, learning_rate):
                super()._backend_update_step(grads, trainable_variables, learning_rate)
                momentum = self.ema_momentum
                for variable in trainable_variables:
                    average = self._ema_weights[self._get_variable_index(variable)]
                    new_average = momentum * ops.convert_to_tensor(average) + (1.0 - momentum) * ops.cast(
                        ops.convert_to_tensor(variable), average.dtype
                    )
                    self.assign(average, new_average)

            def apply_ema_weights(self, bias_correction=True):
                if not self.built:
                    raise ValueError("apply_ema_weights(): the optimizer has not been built/trained yet.")
                steps = int(ops.convert_to_numpy(self.iterations))
                if steps == 0:
                    raise ValueError("apply_ema_weights(): no training step yet, the average is empty.")
                scale = 1.0 - self.ema_momentum**steps if bias_correction else 1.0
                self._old_weights = [ops.convert_to_numpy(v) for v in self._trainable_variables]
                for variable, average in zip(self._trainable_variables, self._ema_weights):
                    # A host copy: sharing the average's buffer would let JAX's
                    # donating train/eval steps delete it.
                    variable.assign(ops.convert_to_numpy(average) / scale)

            def reset_old_weights(self):
                if self._old_weights is None:
                    raise ValueError("reset_old_weights(): call apply_ema_weights() first.")
                for variable, value in zip(self._trainable_variables, self._old_weights):
                    variable.assign(value)
                self._old_weights = None

            def get_config(self):
                config = super().get_config()
                config.pop("use_ema", None)
                config.pop("ema_overwrite_frequency", None)
                config["ema_momentum"] = self.ema_momentum
                return config

        return ExponentialMovingAverage

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithEMA")


def extend_with_parameter_wise_lr(BaseOptimizer, name=None):
    """Layer-wise learning rates: `paramwise_lr_schedule={pattern: multiplier}`; a
    variable's learning rate is multiplied by every multiplier whose regex occurs in
    its path, e.g. `{"Embedding": 0.1, "Transformer-11": 2.0}`."""

    def body(base):
        class ParameterWiseLR(base):
            def __init__(self, *args, paramwise_lr_schedule=None, **kwargs):
                schedule = dict(paramwise_lr_schedule or {})
                for pattern, multiplier in schedule.items():
                    if not isinstance(pattern, str) or not isinstance(multiplier, (int, float)):
                        raise TypeError(
                            "paramwise_lr_schedule must map name patterns to numbers, "
                            f"got {pattern!r}: {multiplier!r}"
                        )
                super().__init__(*args, **kwargs)
                self.paramwise_lr_schedule = {k: float(v) for k, v in schedule.items()}

            def lr_multiplier(self, variable):
                multiplier = super().lr_multiplier(variable)
                for pattern, factor in self.paramwise_lr_schedule.items():
                    if matches_any(variable, [pattern]):
                        multiplier *= factor
                return multiplier

            def get_config(self):
                config = super().get_config()
                config["paramwise_lr_schedule"] = self.paramwise_lr_schedule
                return config

        return ParameterWiseLR

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithParameterWiseLR")


def extend_with_gradient_hook(BaseOptimizer, name=None):
    """`gradient_hook(gradient, variable) -> gradient` runs on every variable's gradient
    before the update: per-tensor clipping, masks, noise ("灵活操作梯度"). `variable`
    is the Keras variable (use `variable.path` to select). For noise, draw from
    `optimizer.seed_generator` so it works under JAX's stateless training step.
    The hook is code, so it is not part of `get_config()`; pass it again on reload."""

    def body(base):
        class GradientHook(base):
            def __init__(self, *args, gradient_hook=None, seed=None, **kwargs):
                if gradient_hook is not None and not callable(gradient_hook):
                    raise TypeError(f"gradient_hook must be callable, got {gradient_hook!r}")
                super().__init__(*args, **kwargs)
                self.gradient_hook = gradient_hook
                self.seed_generator = keras.random.SeedGenerator(seed)
                # Track its state so the stateless JAX step carries it forward.
                self._track_variable(self.seed_generator.state)

            def transform_gradient(self, gradient, variable):
                gradient = super().transform_gradient(gradient, variable)
                if self.gradient_hook is None:
                    return gradient
                return self.gradient_hook(gradient, variable)

        return GradientHook

    return extend(BaseOptimizer, body, name or f"{BaseOptimizer.__name__}WithGradientHook")
