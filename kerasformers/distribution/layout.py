"""Megatron-style sharding of kerasformers models over a ``("data", "model")`` device mesh.

Every family names its layers the bert4keras way (``Embedding-Token``,
``Transformer-3-MultiHeadSelfAttention``, ``Transformer-3-FeedForward``, ``MLM-Dense``, ...),
so one rule table covers them all:

* **column-parallel** (output features split over ``model``): attention ``q/k/v_dense``
  (whole heads per device when the head count divides the axis), feed-forward ``i*_dense``,
  GAU ``i_dense``. Their biases are split the same way.
* **row-parallel** (input features split, partial sums all-reduced): attention ``o_dense``,
  feed-forward ``o_dense``, GAU ``o_dense`` and the heads on top of the encoder (pooler,
  MLM transform, ELECTRA discriminator, factorised-embedding mappings, T5's LM head).
  Their biases stay replicated.
* **embeddings** (token, segment, learned positions): split along the hidden axis, because
  vocabulary sizes (21128, 30522, ...) seldom divide the mesh while hidden sizes do.

LayerNorm parameters, relative-position tables and small task heads are replicated.
LoRA adapters (``lora_kernel_a/b``, ``lora_embeddings_a/b``) follow their base layer.
The batch is split over ``data`` (``keras.distribution.ModelParallel(batch_dim_name="data")``).
"""

import keras

DATA_AXIS, MODEL_AXIS = "data", "model"

_ATTENTION = r".*MultiHead\w*Attention"
_LAYER_RULES = (  # (regex on the layer path, kind)
    (_ATTENTION + r"/[qkv]_dense", "column"),
    (_ATTENTION + r"/o_dense", "row"),
    (r".*FeedForward/i\d+_dense", "column"),
    (r".*FeedForward/o_dense", "row"),
    (r".*GatedAttentionUnit/i_dense", "column"),
    (r".*GatedAttentionUnit/o_dense", "row"),
    (
        (
            r"(.*-)?(Pooler-Dense|MLM-Dense|Output-Mapping|Discriminator-Dense|Embedding-Mapping|"
            r"Decoder-Output-LM)"
        ),
        "row",
    ),
    (r"(.*-)?Embedding-(Token|Segment|Position)", "embedding"),
)
_M = MODEL_AXIS
_VARIABLE_AXES = {  # kind -> {variable name: axes}
    "column": {
        "kernel": (None, _M),
        "bias": (_M,),
        "lora_kernel_a": (None, None),
        "lora_kernel_b": (None, _M),
    },
    "row": {"kernel": (_M, None), "lora_kernel_a": (_M, None), "lora_kernel_b": (None, None)},
    "embedding": {
        "embeddings": (None, _M),
        "lora_embeddings_a": (None, None),
        "lora_embeddings_b": (None, _M),
    },
}


def device_mesh(data=1, model=None, devices=None):
    """A ``keras.distribution.DeviceMesh`` of shape ``(data, model)`` named ``("data", "model")``.

    ``model`` defaults to all remaining devices; ``devices`` defaults to every device Keras sees
    (all processes' devices after ``jax.distributed.initialize``).
    """
    devices = list(devices if devices is not None else keras.distribution.list_devices())
    if model is None:
        if len(devices) % data:
            raise ValueError(f"device_mesh: data={data} does not divide the {len(devices)} devices")
        model = len(devices) // data
    if data * model != len(devices):
        raise ValueError(
            f"device_mesh: data={data} x model={model} = {data * model} devices, "
            f"but {len(devices)} devices are available"
        )
    return keras.distribution.DeviceMesh((data, model), (DATA_AXIS, MODEL_AXIS), devices)


def layout_map(model_or_family, mesh):
    """The ``keras.distribution.LayoutMap`` that shards a kerasformers model over ``mesh``.

    ``model_or_family``: a model key (``"bert"``, ``"t5.1.1"``, ...), a ``Transformer``
    subclass or instance, or a built ``keras.Model``. Given a built model, every variable is
    checked against the mesh (an axis that the mesh does not divide is an error naming the
    variable), which a bare family name cannot do before the model exists.
    ``mesh`` must have a ``"model"`` axis (``device_mesh(data, model)`` makes one).
    """
    if MODEL_AXIS not in mesh.axis_names:
        raise ValueError(f"layout_map: the mesh needs a {MODEL_AXIS!r} axis, it has {mesh.axis_names}")
    model = _resolve(model_or_family)
    layouts = keras.distribution.LayoutMap(mesh)
    for layer_pattern, kind in _LAYER_RULES:
        for variable_name, axes in _VARIABLE_AXES[kind].items():
            layouts[f"{layer_pattern}/{variable_name}"] = axes
    if model is not None:
        check_divisible(model, layouts)
    return layouts


def model_parallel(model_or_family, mesh, auto_shard_dataset=True):
    """``keras.distribution.ModelParallel`` with `layout_map` and the batch split over ``data``.

    With several processes, pass ``auto_shard_dataset=False`` when each process already feeds
    its own part of every batch (Keras shards only ``tf.data`` datasets by itself).
    """
    return keras.distribution.ModelParallel(
        layout_map=layout_map(model_or_family, mesh),
        batch_dim_name=DATA_AXIS,
        auto_shard_dataset=auto_shard_dataset,
    )


def check_divisible(model, layouts):
    """Raise if a variable of ``model`` has an axis that its layout splits unevenly."""
    sizes = dict(zip(layouts.device_mesh.axis_names, layouts.device_mesh.shape))
    problems = []
    for variable in model.weights:
        layout = layouts[variable.path]
        if layout is None:
            continue
        for dim, axis in zip(variable.shape, layout.axes):
            if axis is not None and dim % sizes[axis]:
                problems.append(
                    f"{variable.path} {tuple(variable.shape)}: axis of size {dim} "
                    f"is split over mesh axis {axis!r} of size {sizes[axis]}"
                )
    if problems:
        raise ValueError(
            "layout_map: the mesh does not divide these variables evenly "
            "(choose a smaller 'model' axis): " + "; ".join(problems)
        )


def _resolve(model_or_family):
    """The built keras.Model behind the argument, or None for a family name / class."""
    from ..models import Transformer, get_model_class

    if isinstance(model_or_family, str):
        get_model_class(model_or_family)  # unknown names raise, listing the known ones
        return None
    if isinstance(model_or_family, type) and issubclass(model_or_family, Transformer):
        return None
    if isinstance(model_or_family, Transformer):
        return model_or_family.model if model_or_family.built else None
    if isinstance(model_or_family, keras.Model):
        return model_or_family
    raise TypeError(
        "layout_map: expected a model key, a Transformer class or instance, or a keras.Model, "
        f"got {type(model_or_family).__name__}"
    )


def parameter_bytes_per_device(model):
    """``{device: bytes of model.weights stored on it}`` (JAX arrays: counts real shards)."""
    totals = {}
    for variable in model.weights:
        for shard in variable.value.addressable_shards:
            totals[str(shard.device)] = totals.get(str(shard.device), 0) + shard.data.nbytes
    return totals
