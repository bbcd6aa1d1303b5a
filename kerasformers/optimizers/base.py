"""The per-variable update pipeline every `extend_with_*` extension plugs into.

bert4keras composed extensions by monkey-patching `K.update`. Keras 3 optimizers have
one per-variable entry point, `update_step(gradient, variable, learning_rate)`, which
runs unchanged on JAX (inside `stateless_apply`), TensorFlow and PyTorch. The mixin
below wraps it in a fixed pipeline with small hook methods; each extension overrides
the hooks it needs and calls `super()` so extensions stack in any order:

    gradient -> transform_gradient()            gradient hook (clip / noise / mask)
    lr       -> lr * lr_multiplier()            parameter-wise learning rates
    base optimizer's update_step()              Adam, SGD, ...
    new      -> transform_update(old, new)      decoupled weight decay, LAMB trust ratio
    lazy_row_mask(): rows with zero gradient    keep old values, slots included
"""

import inspect
import re

import keras
from keras import ops


def variable_path(variable):
    """The name bert4keras-style patterns are matched against: 'layer/.../weight'."""
    return getattr(variable, "path", None) or variable.name


def matches_any(variable, patterns):
    """True if any regex in `patterns` occurs in the variable's path (`re.search`)."""
    path = variable_path(variable)
    return any(re.search(pattern, path) for pattern in patterns or ())


def check_patterns(argument, patterns):
    """Patterns must be a list of strings; a bare string is a common slip."""
    if patterns is None:
        return []
    if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"{argument} must be a list of name patterns (strings), got {patterns!r}")
    return list(patterns)


def pop_learning_rate(optimizer_class, args, kwargs):
    """Resolve bert4keras's `lr=` alias and a positional learning rate.

    Returns `(learning_rate, remaining_args)`; ints become floats because Keras insists
    on a float learning rate.
    """
    if "lr" in kwargs:
        if "learning_rate" in kwargs or args:
            raise TypeError("Pass either `lr` or `learning_rate`, not both.")
        kwargs["learning_rate"] = kwargs.pop("lr")
    if args:
        learning_rate, args = args[0], args[1:]
        if "learning_rate" in kwargs:
            raise TypeError("learning_rate was given both positionally and by keyword.")
    elif "learning_rate" in kwargs:
        learning_rate = kwargs.pop("learning_rate")
    else:
        learning_rate = _default_learning_rate(optimizer_class)
    if isinstance(learning_rate, int) and not isinstance(learning_rate, bool):
        learning_rate = float(learning_rate)
    return learning_rate, args


def _default_learning_rate(optimizer_class):
    """The `learning_rate` default of the nearest class in the MRO that declares one."""
    for klass in optimizer_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameter = inspect.signature(init).parameters.get("learning_rate")
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    raise TypeError(f"{optimizer_class.__name__} needs a learning_rate.")


class ExtendedOptimizer:
    """Mixin placed in front of a Keras optimizer class by `extend(...)`."""

    def __init__(self, *args, **kwargs):
        learning_rate, args = pop_learning_rate(type(self), args, kwargs)
        super().__init__(learning_rate, *args, **kwargs)
        self._lazy_slots = {}  # model variable key -> slot variables shaped like it

    # ---- hooks (extensions override these and call super()) -------------------------

    def transform_gradient(self, gradient, variable):
        """Per-variable gradient manipulation; identity by default."""
        return gradient

    def lr_multiplier(self, variable):
        """Python float multiplying the learning rate of `variable`."""
        return 1.0

    def transform_update(self, old, new, variable, learning_rate):
        """Post-process the base optimizer's result `new` (old: the value before)."""
        if self.weight_decay is not None and self._use_weight_decay(variable):
            # Decoupled decay, the same formula as Keras's `_apply_weight_decay`
            # (w -= lr * rate * w_old), but inside the step so later hooks see it.
            rate = ops.cast(self.weight_decay, new.dtype)
            new = new - ops.cast(learning_rate, new.dtype) * rate * old
        return new

    def lazy_row_mask(self, gradient, variable):
        """Boolean mask broadcastable to the variable, or None to update everything."""
        return

    # ---- the pipeline ------------------------------------------------------------------

    def update_step(self, gradient, variable, learning_rate):
        model_variable = self._trainable_variables[self._get_variable_index(variable)]
        gradient = self.transform_gradient(gradient, model_variable)
        multiplier = self.lr_multiplier(model_variable)
        if multiplier != 1.0:
            learning_rate = learning_rate * multiplier
        mask = self.lazy_row_mask(gradient, model_variable)
        if mask is None and not self._post_processes(model_variable):
            return super().update_step(gradient, variable, learning_rate)
        slots = self._lazy_slots.get(self._var_key(model_variable), []) if mask is not None else []
        # Copies: on torch, reading a variable aliases the storage that assign() mutates.
        old = ops.copy(ops.convert_to_tensor(variable))
        old_slots = [ops.copy(ops.convert_to_tensor(slot)) for slot in slots]

        super().update_step(gradient, variable, learning_rate)

        new = self.transform_update(old, ops.convert_to_tensor(variable), model_variable, learning_rate)
        if mask is not None:
            new = ops.where(mask, new, old)
            for slot, old_slot in zip(slots, old_slots):
                self.assign(slot, ops.where(mask, ops.convert_to_tensor(slot), old_slot))
        self.assign(variable, new)

    def _post_processes(self, variable):
        """Whether `transform_update` can change this variable's update (if not, the
        step skips reading the old value)."""
        if self.weight_decay is not None and self._use_weight_decay(variable):
            return True
        return type(self).transform_update is not ExtendedOptimizer.transform_update

    def _apply_weight_decay(self, variables):
        """Keras decays before the step; here decay happens in `transform_update`."""

    def _use_weight_decay(self, variable):
        """Keras's exclusion rules, but patterns match the full path (bert4keras names
        like 'Transformer-0-FeedForward-Norm/gamma'), not just the short name."""
        if self._var_key(variable) in getattr(self, "_exclude_from_weight_decay", ()):
            return False
        pattern = getattr(self, "_exclude_from_weight_decay_pattern", None)
        return pattern is None or pattern.search(variable_path(variable)) is None

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        slot = super().add_variable_from_reference(reference_variable, name=name, initializer=initializer)
        # Remember per-variable optimizer state (momentum, velocity, ...) so lazy
        # optimization can freeze its rows too. EMA/accumulator/lookahead copies are not
        # touched inside update_step, so they need no freezing.
        if name not in ("average", "ema", "gradient_accumulator", "slow") and tuple(slot.shape) == tuple(
            reference_variable.shape
        ):
            self._lazy_slots.setdefault(self._var_key(reference_variable), []).append(slot)
        return slot


def extend(base, extension, name):
    """Subclass `base` (a Keras optimizer class) with `extension`'s body, named `name`.

    The mixin is inserted once, however many extensions are stacked. The new class is
    registered with Keras serialization (as 'kerasformers>name' and as plain `name`,
    bert4keras's `custom_objects` trick) so saved models load back.
    """
    if not (isinstance(base, type) and issubclass(base, keras.optimizers.Optimizer)):
        raise TypeError(f"Expected a Keras optimizer class (e.g. keras.optimizers.Adam), got {base!r}")
    if not issubclass(base, ExtendedOptimizer):
        base = type(f"Extended{base.__name__}", (ExtendedOptimizer, base), {})
    cls = extension(base)
    cls.__name__ = cls.__qualname__ = name
    keras.saving.register_keras_serializable(package="kerasformers", name=name)(cls)
    keras.saving.get_custom_objects()[name] = cls
    return cls
