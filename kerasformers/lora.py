"""LoRA on any kerasformers model, on Keras's own ``enable_lora``.

Every projection in every family is a Keras ``Dense`` (attention ``q/k/v/o_dense``,
feed-forward ``i*_dense``/``o_dense``, GAU ``i_dense``/``o_dense``, heads) and the token table
is a subclass of Keras ``Embedding``, so ``layer.enable_lora(rank)`` reaches all of them: it
adds ``A`` (in, r) and ``B`` (r, out, zeros) and uses ``W + alpha/r · A B``. This module picks
the layers by path, freezes everything else, and handles the adapters' life cycle:

    adapted = enable_lora(model, rank=8, train=["head"])   # "head": a new task layer, trained in full
    model.compile(...); model.fit(...)                      # only adapters (+ head) change
    save_adapters(model, "adapters.safetensors")           # a few hundred KB, not the model
    ...
    base = build_transformer_model(config, base_checkpoint) # any copy of the base weights
    load_adapters(model, "adapters.safetensors")            # enables LoRA where the file says
    adapters = merge_lora(model)                            # plain Dense/Embedding again: W += ΔW
    unmerge_lora(model, adapters)                           # W -= ΔW, adapters back

Load the base checkpoint before enabling LoRA: adapters add weights to the layers, which the
checkpoint name mappings do not know about.
"""

import json
import os
import re
import tempfile

import keras
import numpy as np
from keras import ops

from .collect import collect_once

ATTENTION = r".*MultiHead\w*Attention/[qkvo]_dense"
FEED_FORWARD = r".*FeedForward/(i\d+|o)_dense"
GATED_ATTENTION = r".*GatedAttentionUnit/[io]_dense"
TOKEN_EMBEDDING = r"(.*-)?Embedding-Token"
#: Every projection inside the Transformer blocks, the usual LoRA choice for fine-tuning.
DEFAULT_TARGETS = (ATTENTION, FEED_FORWARD, GATED_ATTENTION)
_FORMAT = "kerasformers-lora-1"


def _layers(model):
    return [layer for layer in model._flatten_layers(include_self=False) if hasattr(layer, "enable_lora")]


def _matches(patterns, path):
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return path is not None and any(re.fullmatch(p, path) for p in patterns)


def _base_and_adapters(layer):
    """(frozen base variable, A, B) of a LoRA-enabled Dense or Embedding."""
    if isinstance(layer, keras.layers.Embedding):
        return layer._embeddings, layer.lora_embeddings_a, layer.lora_embeddings_b
    return layer._kernel, layer.lora_kernel_a, layer.lora_kernel_b


def merged_values(layer):
    """``{id(base variable): W + alpha/r · A B}`` for the LoRA-enabled Dense/Embedding layers in
    ``layer`` (itself included): what a plain checkpoint of the adapted model must hold."""
    merged = {}
    for sub in layer._flatten_layers(include_self=True):
        if getattr(sub, "lora_enabled", False):
            base, a, b = _base_and_adapters(sub)
            update = (sub.lora_alpha / sub.lora_rank) * ops.matmul(a, b)
            merged[id(base)] = ops.convert_to_numpy(ops.add(base, update))
    return merged


def adapted_layers(model):
    """The layers of ``model`` that currently carry LoRA adapters."""
    return [layer for layer in _layers(model) if layer.lora_enabled]


def enable_lora(model, rank=8, alpha=None, targets=DEFAULT_TARGETS, train=()):
    """Add rank-``rank`` adapters to every Dense/Embedding whose path matches ``targets``.

    ``alpha`` scales the update as ``alpha / rank`` (default ``rank``: scale 1).
    ``targets``: regexes on layer paths (``layer.path``), e.g. ``ATTENTION``, ``TOKEN_EMBEDDING``.
    Every other weight is frozen, except the layers whose path matches ``train`` (a freshly
    added task head, say). Returns the adapted layers' paths. Compile after calling this.
    """
    if int(rank) < 1:
        raise ValueError(f"enable_lora: rank must be >= 1, got {rank!r}")
    chosen = [layer for layer in _layers(model) if _matches(targets, layer.path)]
    if not chosen:
        raise ValueError(f"enable_lora: no Dense/Embedding layer path matches {targets!r}")
    for layer in chosen:
        if layer.quantization_mode is not None:
            raise ValueError(
                f"enable_lora: {layer.path} is quantized ({layer.quantization_mode}); "
                "merge LoRA before quantizing instead"
            )
        if not layer.lora_enabled:
            layer.enable_lora(int(rank), lora_alpha=alpha)
    trained = {id(v) for layer in _layers(model) if layer.lora_enabled for v in _base_and_adapters(layer)[1:]}
    trained |= {
        id(v) for layer in model._flatten_layers() if _matches(train, layer.path) for v in layer.weights
    }
    for variable in model.weights:
        variable.trainable = id(variable) in trained
    _forget_compiled_functions(model)
    return [layer.path for layer in chosen]


def merge_lora(model):
    """Fold every adapter into its base weight (W += alpha/r · A B) and remove it.

    The layers become plain Dense/Embedding, so the model saves and converts like a base
    model (``save_weights_as_checkpoint``). Returns the removed adapters
    ``{layer path: (A, B, rank, alpha)}`` for `unmerge_lora`.
    """
    removed = {}
    with collect_once():
        for layer in adapted_layers(model):
            removed[layer.path] = _merge_layer(layer)
    _forget_compiled_functions(model)
    return removed


def _merge_layer(layer):
    """Fold one layer's adapter into its base weight, remove it, and return it."""
    base, a, b = _base_and_adapters(layer)
    scale = layer.lora_alpha / layer.lora_rank
    base.assign(ops.add(base, scale * ops.matmul(a, b)))
    adapter = (ops.convert_to_numpy(a), ops.convert_to_numpy(b), layer.lora_rank, layer.lora_alpha)
    for name in ("lora_kernel_a", "lora_kernel_b", "lora_embeddings_a", "lora_embeddings_b"):
        if hasattr(layer, name):
            delattr(layer, name)
    layer.lora_enabled, layer.lora_rank, layer.lora_alpha = False, None, None
    base.trainable = True
    return adapter


def unmerge_lora(model, adapters):
    """Undo `merge_lora`: subtract each adapter's update again and re-attach it."""
    layers = {layer.path: layer for layer in _layers(model)}
    for path, (a_value, b_value, rank, alpha) in adapters.items():
        layer = _layer_at(layers, path, "unmerge_lora")
        layer.enable_lora(rank, lora_alpha=alpha)
        base, a, b = _base_and_adapters(layer)
        a.assign(a_value)
        b.assign(b_value)
        base.assign(ops.subtract(base, (alpha / rank) * ops.matmul(a, b)))
    _forget_compiled_functions(model)


def save_adapters(model, path):
    """Write what fine-tuning changed - adapters and fully trained layers - to one safetensors file.

    The frozen base weights are not saved. Written to a temporary file and moved into
    place, so an interrupted save never leaves a torn file.
    """
    from safetensors.numpy import save_file

    layers = adapted_layers(model)
    if not layers:
        raise ValueError("save_adapters: the model has no LoRA adapters (call enable_lora first)")
    tensors = {v.path: ops.convert_to_numpy(v) for v in model.trainable_weights}
    meta = {
        "format": _FORMAT,
        "adapters": {layer.path: [layer.lora_rank, layer.lora_alpha] for layer in layers},
    }
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-lora-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"kerasformers": json.dumps(meta)})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_adapters(model, path):
    """Load a `save_adapters` file onto ``model`` (holding the base weights): enables LoRA on the
    layers the file names (same rank and alpha), assigns adapters and trained layers, freezes
    the rest as `enable_lora` does. Returns the adapted layers' paths."""
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as handle:
        meta = json.loads((handle.metadata() or {}).get("kerasformers", "{}"))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a kerasformers LoRA adapter file (no '{_FORMAT}' metadata)")
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (safe_open is not iterable)
    layers = {layer.path: layer for layer in _layers(model)}
    chosen = {layer_path: _layer_at(layers, layer_path, path) for layer_path in meta["adapters"]}  # all first
    for layer_path, (rank, alpha) in meta["adapters"].items():
        layer = chosen[layer_path]
        if layer.lora_enabled and (layer.lora_rank, layer.lora_alpha) != (rank, alpha):
            raise ValueError(
                f"{path}: {layer_path} has LoRA rank {layer.lora_rank} alpha {layer.lora_alpha}, "
                f"the file has rank {rank} alpha {alpha}"
            )
    for layer_path, (rank, alpha) in meta["adapters"].items():
        if not chosen[layer_path].lora_enabled:
            chosen[layer_path].enable_lora(rank, lora_alpha=alpha)
    variables = {v.path: v for v in model.weights}
    for name, value in tensors.items():
        variable = variables.get(name)
        if variable is None:
            raise ValueError(f"{path}: the model has no variable {name!r}")
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{path}: {name} has shape {value.shape}, the model expects {tuple(variable.shape)}"
            )
        variable.assign(value)
    for variable in model.weights:
        variable.trainable = variable.path in tensors
    _forget_compiled_functions(model)
    return list(meta["adapters"])


def _layer_at(layers, layer_path, source):
    if layer_path not in layers:
        raise ValueError(f"{source}: the model has no Dense/Embedding layer at {layer_path!r}")
    return layers[layer_path]


def _forget_compiled_functions(model):
    """Compiled predict/train functions captured the old variables: rebuild them on next use."""
    for attribute in ("train_function", "test_function", "predict_function"):
        if hasattr(model, attribute):
            setattr(model, attribute, None)


def count_parameters(model):
    """(trainable, total) parameter counts."""
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    return trainable, sum(int(np.prod(v.shape)) for v in model.weights)
