"""Small bert4keras snippets: argument decorators, identity membership, matrix resizing."""

import numpy as np


def insert_arguments(**arguments):
    """Decorate ``__init__`` so each keyword in ``arguments`` (popped from kwargs if given, else
    its default) becomes an attribute before the original ``__init__`` runs."""

    def decorator(func):
        def new_func(self, *args, **kwargs):
            for key, default in arguments.items():
                setattr(self, key, kwargs.pop(key, default))
            return func(self, *args, **kwargs)

        return new_func

    return decorator


def delete_arguments(*arguments):
    """Decorate ``__init__`` so the named keywords are refused with a TypeError."""

    def decorator(func):
        def new_func(self, *args, **kwargs):
            for key in arguments:
                if key in kwargs:
                    raise TypeError(f"{type(self).__name__} got an unexpected keyword argument '{key}'")
            return func(self, *args, **kwargs)

        return new_func

    return decorator


def is_one_of(x, ys):
    """``x in ys`` by identity (``in`` compares tensors element-wise and fails)."""
    return any(x is y for y in ys)


def orthogonally_resize(a, new_shape, window=2):
    """Resize a weight matrix to ``new_shape`` keeping its Frobenius norm: an axis that grows
    repeats groups of ``window`` rows/columns, an axis that shrinks is cut."""
    a = np.asarray(a)
    if a.ndim != len(new_shape):
        raise ValueError(
            f"orthogonally_resize: shape {a.shape} and new_shape {tuple(new_shape)} differ in rank"
        )
    norm = np.linalg.norm(a)
    for axis, (old, new) in enumerate(zip(a.shape, new_shape)):
        repeats = -(-new // old)
        if old != new and repeats > 1:
            if old % window:
                raise ValueError(
                    f"orthogonally_resize: axis {axis} of size {old} is not a multiple of {window}"
                )
            a = a.reshape(a.shape[:axis] + (old // window, window) + a.shape[axis + 1 :])
            a = np.repeat(a, repeats, axis=axis)
            a = a.reshape(a.shape[:axis] + (old * repeats,) + a.shape[axis + 2 :])
    a = a[tuple(slice(0, n) for n in new_shape)]
    return a / np.linalg.norm(a) * norm
