"""Checkpoints that survive SIGKILL, and resuming mid-epoch exactly.

``TrainingCheckpoint`` is a Keras callback that writes model variables
(weights and dropout RNG states), optimizer variables (slots and step count)
and the position in the data (epoch, step) into ONE ``.npz`` file every N
steps. The file is written next to the target and moved over it with
``os.replace``, so a crash leaves either the old or the new checkpoint,
never a torn one.

Sharded variables (``keras.distribution.ModelParallel`` on JAX) are gathered to host memory
to save, from every process when several take part (the first process writes the file), and
restored straight into their shards.

``fit_resumable`` restores the latest checkpoint, finishes the interrupted
epoch from the next unseen batch, then trains the remaining epochs. With a
seeded ``DataGenerator`` (batch order depends only on (seed, epoch)) the
resumed run ends with the same weights as an uninterrupted one.
"""

import glob
import json
import os

import keras
import numpy as np

from ..atomic import atomic_write
from ..distribution.loading import place

_FORMAT_VERSION = 1


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume every ``every_n_steps`` training steps.

    Args:
        path: the checkpoint file (``.npz``).
        every_n_steps: save period in optimizer steps.
        data: optional ``DataGenerator``; its ``epoch`` is set at the start of
            each epoch so that batch order follows the true epoch index.
    """

    def __init__(self, path, every_n_steps=100, data=None):
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"TrainingCheckpoint: every_n_steps must be >= 1, got {every_n_steps}")
        self.path = os.fspath(path)
        self.every_n_steps = every_n_steps
        self.data = data
        self.epoch = 0
        self.step = 0  # batches of `epoch` already trained
        self.global_step = 0
        self._step_offset = 0  # batches skipped at the start of a resumed epoch
        self._directory = os.path.dirname(os.path.abspath(self.path))
        self._temp_prefix = f".tmp-{os.path.basename(self.path)}-"

    # ---------------------------------------------------------------- callback
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.step = self._step_offset
        if self.data is not None:
            self.data.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step index of this call (several with steps_per_execution > 1).
        step = self._step_offset + batch + 1
        previous, self.global_step = self.global_step, self.global_step + step - self.step
        self.step = step
        if self.global_step // self.every_n_steps > previous // self.every_n_steps:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self._step_offset = 0

    # ------------------------------------------------------------- save / load
    def save(self, model=None):
        """Atomically write the checkpoint for ``model`` (default: the fitted model)."""
        model = model if model is not None else self.model  # (self.model syncs JAX state)
        arrays = {f"model/{i}": _host_value(v) for i, v in enumerate(model.variables)}
        optimizer = model.optimizer
        if optimizer is not None:
            if not optimizer.built:  # same variable layout whether or not a step ran yet
                optimizer.build(model.trainable_variables)
            arrays.update({f"optimizer/{i}": _host_value(v) for i, v in enumerate(optimizer.variables)})
        meta = {
            "version": _FORMAT_VERSION,
            "epoch": self.epoch,
            "step": self.step,
            "global_step": self.global_step,
            "model_paths": [v.path for v in model.variables],
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        if not _is_first_process():
            return  # every process gathered (a collective); one of them writes
        with atomic_write(self.path, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())

    def restore(self, model):
        """Load the checkpoint into ``model`` (and its optimizer) if it exists.

        Returns the saved metadata ``{"epoch", "step", "global_step", ...}``
        or None when there is no checkpoint yet.
        """
        # A run killed during save() leaves its temp file behind; the checkpoint itself is intact.
        for stale in glob.glob(
            os.path.join(glob.escape(self._directory), glob.escape(self._temp_prefix) + "*")
        ):
            os.unlink(stale)
        if not os.path.exists(self.path):
            return None
        with np.load(self.path) as f:
            arrays = {k: f[k] for k in f.files}
        if "meta" not in arrays:
            raise ValueError(f"{self.path} is not a TrainingCheckpoint file (no 'meta' entry)")
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        _assign(model.variables, arrays, "model", self.path)
        optimizer_arrays = {k: v for k, v in arrays.items() if k.startswith("optimizer/")}
        if optimizer_arrays:
            if model.optimizer is None:
                raise ValueError(f"{self.path} holds optimizer state but the model is not compiled")
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            _assign(model.optimizer.variables, arrays, "optimizer", self.path)
        self.epoch, self.step, self.global_step = meta["epoch"], meta["step"], meta["global_step"]
        return meta


def _assign(variables, arrays, prefix, path):
    saved = sum(1 for k in arrays if k.startswith(prefix + "/"))
    if saved != len(variables):
        raise ValueError(
            f"{path}: checkpoint has {saved} {prefix} variables but the {prefix} has {len(variables)}"
        )
    for i, variable in enumerate(variables):
        value = arrays[f"{prefix}/{i}"]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{path}: {prefix} variable {i} ({variable.path}) has shape {tuple(variable.shape)}, "
                f"checkpoint has {tuple(value.shape)}"
            )
        variable.assign(place(value, variable))  # sharded variables: each device gets its slice only


def _host_value(variable):
    """The whole value in host memory. A variable sharded over several processes' devices is
    gathered from all of them, so every process must call this (every process's callback does)."""
    value = variable.value
    if keras.backend.backend() == "jax" and not getattr(value, "is_fully_addressable", True):
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return keras.ops.convert_to_numpy(value)


def _is_first_process():
    if keras.backend.backend() != "jax":
        return True
    import jax

    return jax.process_index() == 0


class _BatchesFrom(keras.utils.PyDataset):
    """View of a PyDataset starting at batch ``start`` (the rest of an epoch)."""

    def __init__(self, data, start):
        super().__init__(
            workers=data.workers,
            use_multiprocessing=data.use_multiprocessing,
            max_queue_size=data.max_queue_size,
        )
        self.data, self.start = data, start

    def __len__(self):
        return len(self.data) - self.start

    def __getitem__(self, index):
        return self.data[self.start + index]


def fit_resumable(model, data, epochs, checkpoint, callbacks=(), **fit_kwargs):
    """``model.fit(data, epochs=epochs)`` that picks up where a killed run stopped.

    ``data`` is an indexable ``keras.utils.PyDataset`` whose batch order is a
    function of its ``epoch`` attribute (a seeded ``DataGenerator``).
    Returns the list of ``History`` objects of the ``fit`` calls made.
    """
    if not isinstance(data, keras.utils.PyDataset) or not hasattr(data, "epoch"):
        raise TypeError(
            "fit_resumable: data must be an indexable PyDataset with an `epoch` attribute "
            f"(e.g. a seeded DataGenerator), got {type(data).__name__}; a plain generator "
            "cannot be replayed from the middle of an epoch"
        )
    if "shuffle" in fit_kwargs or "initial_epoch" in fit_kwargs:
        raise ValueError(
            "fit_resumable: shuffle/initial_epoch are managed by the checkpoint; don't pass them"
        )
    checkpoint.data = data
    meta = checkpoint.restore(model)
    epoch, step = (0, 0) if meta is None else (meta["epoch"], meta["step"])
    if step >= len(data):
        epoch, step = epoch + 1, 0
    callbacks = [checkpoint, *callbacks]
    histories = []
    if step > 0 and epoch < epochs:
        checkpoint._step_offset = step
        histories.append(
            model.fit(
                _BatchesFrom(data, step),
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,
                callbacks=callbacks,
                **fit_kwargs,
            )
        )
        epoch += 1
    if epoch < epochs:
        histories.append(
            model.fit(
                data, initial_epoch=epoch, epochs=epochs, shuffle=False, callbacks=callbacks, **fit_kwargs
            )
        )
    return histories
