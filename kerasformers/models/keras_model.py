"""The Keras model `build_transformer_model` returns: a functional `keras.Model` that also accepts
bert4keras-era file names.

Keras 3 only writes ``*.weights.h5`` (weights) and ``*.keras`` (whole model) and refuses other names,
while almost every bert4keras script does ``model.save_weights('best_model.weights')`` and
``model.load_weights('best_model.weights')``. Here any other name is written in the matching Keras
format under a temporary name and then renamed into place (atomic: a crash never leaves half a file),
and read back by its content.
"""
import os
import shutil
import tempfile
import zipfile

import keras

_WEIGHTS_SUFFIX = ".weights.h5"
_MODEL_SUFFIX = ".keras"


def _write_atomically(filepath, suffix, write):
    """Call ``write(temporary path ending in suffix)``, then move the result onto ``filepath``."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=suffix, dir=directory, prefix=".kerasformers-")
    os.close(handle)
    os.remove(temporary)  # Keras refuses to overwrite without asking otherwise
    try:
        write(temporary)
        os.replace(temporary, filepath)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@keras.saving.register_keras_serializable(package="kerasformers")
class TransformerModel(keras.Model):
    """A functional model whose save_weights / load_weights / save take any file name."""

    def save_weights(self, filepath, overwrite=True, **kwargs):
        if os.fspath(filepath).endswith(_WEIGHTS_SUFFIX):
            return super().save_weights(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        _write_atomically(filepath, _WEIGHTS_SUFFIX, lambda path: super(TransformerModel, self).save_weights(path))

    def load_weights(self, filepath, *args, **kwargs):
        filepath = os.fspath(filepath)
        if filepath.endswith((_WEIGHTS_SUFFIX, _MODEL_SUFFIX)):
            return super().load_weights(filepath, *args, **kwargs)
        if not os.path.isfile(filepath):
            raise FileNotFoundError(f"weights file not found: {filepath}")
        # A whole-model file (model.save) is a zip archive; save_weights writes HDF5.
        suffix = _MODEL_SUFFIX if zipfile.is_zipfile(filepath) else _WEIGHTS_SUFFIX
        with tempfile.TemporaryDirectory(prefix="kerasformers-") as directory:
            alias = os.path.join(directory, "weights" + suffix)
            try:
                os.symlink(os.path.abspath(filepath), alias)
            except OSError:
                shutil.copyfile(filepath, alias)
            return super().load_weights(alias, *args, **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        if os.fspath(filepath).endswith(_MODEL_SUFFIX):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        _write_atomically(filepath, _MODEL_SUFFIX, lambda path: super(TransformerModel, self).save(path, **kwargs))
