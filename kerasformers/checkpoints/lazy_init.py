"""Build a model without random initial values for the weights a checkpoint will overwrite.

Keras creates every variable with its initializer's value, so building a model and then loading
a checkpoint holds random weights the load throws away (3-5x the file at peak). Keras defers that
work inside ``keras.StatelessScope(initialize_variables=False)``: a variable created there keeps
only its shape and initializer, and tracing a functional model never needs its value. This
module builds under that scope and then initializes every pending variable once, giving each
checkpoint-covered variable an initializer that reads its checkpoint tensor and every other one
its own (random) initializer. Keras exposes no public call that initializes the pending
variables, so `initialize_deferred` uses Keras's own one (``initialize_all_variables``), the call
the scope itself makes on exit; tests/checkpoints/test_lazy_init.py pins that behaviour.
"""

import contextlib

import keras
from keras.src.backend.common import global_state
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.variables import initialize_all_variables

_PENDING = "uninitialized_variables"  # Keras's global list of variables created without a value


@contextlib.contextmanager
def deferred_initialization():
    """Create variables without values inside the block (a no-op inside another stateless scope).

    If the block fails, the variables it created are initialized normally, so nothing stays pending.
    """
    if in_stateless_scope():
        yield
        return
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    except BaseException:
        initialize_all_variables()
        raise


def pending_variable_ids():
    """``id()`` of every variable created under `deferred_initialization` and not initialized yet."""
    return {id(variable) for variable in global_state.get_global_attribute(_PENDING) or ()}


def initialize_deferred(values):
    """Initialize every pending variable; ``values`` maps ``id(variable)`` to a function
    ``initial_value(initializer, shape, dtype)`` whose result replaces the variable's own
    initializer (it gets that initializer to fall back on). Variables are initialized in
    creation order, one at a time, so only one tensor is in flight beside the model.

    A function that raises does not stop the others (its variable gets its own initializer, so
    no variable is left pending); the first error is raised once every variable has a value.
    """
    errors = []
    for variable in global_state.get_global_attribute(_PENDING) or ():
        make_value = values.get(id(variable))
        if make_value is not None:
            variable._initializer = _CheckpointValue(make_value, variable._initializer, errors)
    initialize_all_variables()
    if errors:
        raise errors[0]


class _CheckpointValue:
    """An initializer that returns a checkpoint tensor (its fallback: the variable's own one)."""

    def __init__(self, make_value, fallback, errors):
        self.make_value = make_value
        self.fallback = fallback
        self.errors = errors

    def __call__(self, shape, dtype=None):
        try:
            return self.make_value(self.fallback, shape, dtype)
        except Exception as error:  # re-raised by initialize_deferred once every variable has a value
            self.errors.append(error)
            return self.fallback(shape, dtype=dtype)
