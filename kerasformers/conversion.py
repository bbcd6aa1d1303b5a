"""Checkpoint conversion, inspection and export (what ``kerasformers convert / inspect / export`` run).

    convert("hf_bert_dir", "tf1_dir", to="tf1")          # TF1 prefix + bert_config.json, no TensorFlow
    convert("tf1_dir", "hf_dir", model="bert", to="hf")   # safetensors folder that transformers loads
    convert("hf_dir", "keras_dir", to="keras")            # model.keras

Every conversion rebuilds the model from what it wrote and compares outputs on random ids
(unless ``verify=False``). Destinations are written in a sibling temporary folder and renamed
into place, so a failure never leaves half a checkpoint, and an existing destination is only
replaced with ``force=True``.
"""

import glob
import json
import os
import shutil
import tempfile

import keras
import ml_dtypes
import numpy as np
from keras import ops

from .checkpoints import open_checkpoint, write_safetensors
from .checkpoints.safetensors_io import SafetensorsReader
from .models import build_transformer_model
from .serving.models import HF_FAMILIES

TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "spiece.model",
)
DTYPES = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
QUANTIZED = ("int8",)  # Keras quantisation modes; written as a .keras model only
# Relative to the largest output; int8 is checked against the float32 source, not a cast of it.
TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 8e-2, "int8": 8e-2}
TF1_PREFIX, TF1_CONFIG = "bert_model.ckpt", "bert_config.json"

# Variable-name fragments -> family (first match wins; checked on TF1 and HuggingFace names).
NAME_HINTS = [
    ("albert", "albert"),
    ("electra", "electra"),
    ("roberta.", "roberta"),
    ("gpt/", "gpt2"),
    ("transformer.h.", "gpt2"),
    ("h.0.attn.c_attn", "gpt2"),
    ("encoder/block_", "t5"),
    ("encoder.block.", "t5"),
    ("roformer", "roformer"),
    ("bert/", "bert"),
    ("bert.", "bert"),
    ("encoder.layer.", "bert"),
]


class ConversionError(ValueError):
    pass


# ---------------------------------------------------------------------- reading
def config_path_of(source):
    """The config next to a checkpoint: HF ``config.json`` or Google ``bert_config.json``."""
    folder = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    for name in ("config.json", TF1_CONFIG):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def guess_family(source):
    """Family key from ``config.json``'s model_type, else from the variable names; None if unknown."""
    config = config_path_of(source)
    if config is not None:
        with open(config, encoding="utf-8") as handle:
            model_type = json.load(handle).get("model_type")
        if model_type in HF_FAMILIES:
            return HF_FAMILIES[model_type]
    with open_checkpoint(source) as reader:
        names = list(reader.keys())
    for fragment, family in NAME_HINTS:
        if any(fragment in name for name in names):
            return family
    return None


def describe(source):
    """What ``inspect`` prints: format, family guess, variables, parameter count, config."""
    with open_checkpoint(source) as reader:
        variables = [
            (name, tuple(reader.shape(name)), str(np.dtype(reader.dtype(name))))
            for name in sorted(reader.keys())
        ]
        form = reader.format
    config_path = config_path_of(source)
    config = None
    if config_path is not None:
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
    return {
        "path": os.fspath(source),
        "format": form,
        "family": guess_family(source),
        "parameters": int(sum(int(np.prod(shape)) for _, shape, _ in variables)),
        "variables": variables,
        "config_path": config_path,
        "config": config,
    }


def load_source(source, family=None):
    """A checkpoint (HF folder, TF1 prefix/folder, safetensors file) -> (transformer, family)."""
    config = config_path_of(source)
    if config is None:
        raise ConversionError(f"{source}: no config.json or {TF1_CONFIG} next to the checkpoint")
    family = family or guess_family(source)
    if family is None:
        raise ConversionError(f"{source}: cannot tell the model family; pass --model (e.g. bert, gpt2)")
    checkpoint = source
    if os.path.isdir(source) and os.path.basename(config) == TF1_CONFIG:
        found = sorted(glob.glob(os.path.join(source, "*.ckpt.index")))
        checkpoint = found[0][: -len(".index")] if found else source
    transformer = build_transformer_model(config, checkpoint, model=family, return_keras_model=False)
    return transformer, family


def load_written(destination, to, family):
    """Rebuild what `write` produced (for the round-trip check)."""
    if to == "hf":
        return build_transformer_model(
            checkpoint_path=destination, model=family, return_keras_model=False
        ).model
    if to == "tf1":
        return build_transformer_model(
            os.path.join(destination, TF1_CONFIG),
            os.path.join(destination, TF1_PREFIX),
            model=family,
            return_keras_model=False,
        ).model
    import keras

    return keras.saving.load_model(os.path.join(destination, "model.keras"))


# ---------------------------------------------------------------------- writing
def write(transformer, folder, to, dtype="float32"):
    """Write ``transformer`` into the (new, empty) ``folder`` in layout ``to``."""
    if to == "keras":
        if dtype == "int8":
            from .quantization import quantize_int8

            quantize_int8(transformer.model)
        elif dtype != "float32":
            raise ConversionError("--to keras writes float32 or int8 (cast later with a Keras dtype policy)")
        transformer.model.save(os.path.join(folder, "model.keras"))
        return
    if dtype in QUANTIZED:
        raise ConversionError(f"--dtype {dtype} needs --to keras (hf and tf1 checkpoints hold float weights)")
    transformer.save_weights_as_huggingface(folder)
    weights = os.path.join(folder, "model.safetensors")
    if to == "tf1":
        os.replace(os.path.join(folder, "config.json"), os.path.join(folder, TF1_CONFIG))
        os.remove(weights)
        transformer.save_weights_as_checkpoint(os.path.join(folder, TF1_PREFIX), dtype=DTYPES[dtype])
    elif dtype != "float32":
        with SafetensorsReader(weights) as reader:
            tensors = {name: np.asarray(reader[name]).astype(DTYPES[dtype]) for name in reader}
        write_safetensors(weights, tensors)


def copy_tokenizer(source, folder):
    origin = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    copied = []
    for name in TOKENIZER_FILES:
        path = os.path.join(origin, name)
        if os.path.isfile(path):
            shutil.copy2(path, os.path.join(folder, name))
            copied.append(name)
    return copied


def random_inputs(model, vocab_size, seed=0, batch=2, length=12):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab_size, size=(batch, length)).astype("int32")
    extra = [np.zeros((batch, length), "int32") for _ in model.inputs[1:]]
    return [ids] + extra if extra else ids


def outputs_of(model, inputs):
    out = model(inputs, training=False)
    return [
        ops.convert_to_numpy(o).astype("float32") for o in (out if isinstance(out, (list, tuple)) else [out])
    ]


def compare(expected, got, dtype):
    """Largest difference relative to the largest output; raises if above the dtype's tolerance."""
    if len(expected) != len(got):
        raise ConversionError(f"round trip: {len(expected)} outputs before, {len(got)} after")
    worst = 0.0
    for a, b in zip(expected, got):
        if a.shape != b.shape:
            raise ConversionError(f"round trip: output shape {a.shape} became {b.shape}")
        worst = max(worst, float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(a)))))
    if worst > TOLERANCE[dtype]:
        raise ConversionError(
            f"round trip: outputs differ by {worst:.3g} (relative), more than the "
            f"{dtype} tolerance {TOLERANCE[dtype]}"
        )
    return worst


# ---------------------------------------------------------------------- the whole job
def staging_folder(destination, force):
    destination = os.path.abspath(destination)
    if os.path.exists(destination) and not force:
        raise ConversionError(f"{destination} exists; pass --force to replace it")
    parent = os.path.dirname(destination)
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(destination)}.", dir=parent)


def publish(staging, destination):
    """Move the finished folder into place; an old destination is removed only afterwards."""
    destination = os.path.abspath(destination)
    old = None
    if os.path.exists(destination):
        old = destination + f".old-{os.getpid()}"
        os.replace(destination, old)
    os.replace(staging, destination)
    if old is not None:
        shutil.rmtree(old) if os.path.isdir(old) else os.remove(old)


def convert(source, destination, family=None, to="hf", dtype="float32", verify=True, force=False, log=print):
    """Convert ``source`` to layout ``to`` at ``destination``; returns a report dict."""
    if to not in ("hf", "tf1", "keras"):
        raise ConversionError(f"--to must be hf, tf1 or keras, got {to!r}")
    if dtype not in DTYPES and dtype not in QUANTIZED:
        raise ConversionError(f"--dtype must be one of {', '.join([*DTYPES, *QUANTIZED])}, got {dtype!r}")
    if dtype in QUANTIZED and to != "keras":
        raise ConversionError(f"--dtype {dtype} needs --to keras (hf and tf1 checkpoints hold float weights)")
    staging = staging_folder(destination, force)
    try:
        log(f"reading {source}")
        transformer, family = load_source(source, family)
        if verify:  # taken before writing: an int8 write quantises the model in place
            inputs = random_inputs(transformer.model, transformer.vocab_size)
            expected = outputs_of(transformer.model, inputs)
        log(f"writing {to} ({dtype}, family {family})")
        write(transformer, staging, to, dtype)
        tokenizer = copy_tokenizer(source, staging)
        report = {
            "family": family,
            "to": to,
            "dtype": dtype,
            "tokenizer_files": tokenizer,
            "max_difference": None,
        }
        if verify:
            log("verifying the round trip")
            report["max_difference"] = compare(
                expected, outputs_of(load_written(staging, to, family), inputs), dtype
            )
        publish(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report["destination"] = os.path.abspath(destination)
    return report


# ---------------------------------------------------------------------- export for serving elsewhere
def export(model_folder, destination, form="saved_model", force=False, log=print):
    """Export a model folder's Keras model as a TF SavedModel or ONNX, checked against Keras outputs."""
    from .serving.models import folder_family

    if form not in ("saved_model", "onnx"):
        raise ConversionError(f"--format must be saved_model or onnx, got {form!r}")
    family = folder_family(model_folder)
    transformer = build_transformer_model(
        checkpoint_path=model_folder, model=family, return_keras_model=False
    )
    model = transformer.model
    inputs = random_inputs(model, transformer.vocab_size)
    expected = outputs_of(model, inputs)
    staging = staging_folder(destination, force)
    try:
        if form == "saved_model":
            got = _export_saved_model(model, staging, inputs, log)
        else:
            got = _export_onnx(model, staging, inputs, log)
        difference = compare(expected, got, "float32")
        publish(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "format": form,
        "family": family,
        "destination": os.path.abspath(destination),
        "max_difference": difference,
    }


def _export_saved_model(model, folder, inputs, log):
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ConversionError(
            "--format saved_model needs TensorFlow: pip install kerasformers[tensorflow]"
        ) from error
    path = os.path.join(folder, "saved_model")
    log(f"exporting a TF SavedModel to {path}")
    try:
        model.export(path, format="tf_saved_model", verbose=False)
    except Exception as error:
        raise ConversionError(
            f"SavedModel export failed on the {keras.backend.backend()} backend "
            f"({type(error).__name__}: {str(error)[:300]}); run it with "
            f"KERAS_BACKEND=tensorflow"
        ) from error
    served = tf.saved_model.load(path)
    out = served.serve(inputs)
    return [np.asarray(o, dtype="float32") for o in (out if isinstance(out, (list, tuple)) else [out])]


def _export_onnx(model, folder, inputs, log):
    try:
        import onnxruntime
    except ImportError as error:
        raise ConversionError(
            "--format onnx needs onnxruntime (and onnx; tf2onnx on the JAX/TF backends): "
            "pip install onnx onnxruntime tf2onnx"
        ) from error
    path = os.path.join(folder, "model.onnx")
    log(f"exporting ONNX to {path}")
    try:
        model.export(path, format="onnx", verbose=False)
    except Exception as error:
        raise ConversionError(
            f"ONNX export failed on the {keras.backend.backend()} backend "
            f"({type(error).__name__}: {str(error)[:300]}); with KERAS_BACKEND=tensorflow "
            f"it goes through tf2onnx"
        ) from error
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    arrays = inputs if isinstance(inputs, list) else [inputs]
    feed = {spec.name: array for spec, array in zip(session.get_inputs(), arrays)}
    return [np.asarray(o, dtype="float32") for o in session.run(None, feed)]
