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

from ..atomic import atomic_path

_WEIGHTS_SUFFIX = ".weights.h5"
_MODEL_SUFFIX = ".keras"


@keras.saving.register_keras_serializable(package="kerasformers")
class TransformerModel(keras.Model):
    """A functional model whose save_weights / load_weights / save take any file name.

    ``transformer`` is the builder object that made it (None after ``keras.models.load_model``), so
    `generate(model)` works on what build_transformer_model returns by default.
    """

    @property
    def transformer(self):
        return self.__dict__.get("_kerasformers_transformer")

    @transformer.setter
    def transformer(self, builder):
        # Stored past Keras's attribute tracking: the builder is not a layer or a variable.
        object.__setattr__(self, "_kerasformers_transformer", builder)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        if os.fspath(filepath).endswith(_WEIGHTS_SUFFIX):
            return super().save_weights(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        with atomic_path(filepath, suffix=_WEIGHTS_SUFFIX) as temporary:
            super().save_weights(temporary)

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
        with atomic_path(filepath, suffix=_MODEL_SUFFIX) as temporary:
            super().save(temporary, **kwargs)
