"""Beyond one device: sharding layouts for Keras 3's distribution API (JAX backend).

from kerasformers.distribution import device_mesh, model_parallel
with model_parallel("bert", device_mesh(data=2, model=4)).scope():
    bert = build_transformer_model(config_path, return_keras_model=False)
    load_weights_sharded(bert, checkpoint_path)  # each device receives only its slices
"""

from .layout import (
    DATA_AXIS,
    MODEL_AXIS,
    check_divisible,
    device_mesh,
    layout_map,
    model_parallel,
    parameter_bytes_per_device,
)
from .loading import load_weights_sharded, place, sharded_loading

__all__ = [
    "DATA_AXIS",
    "MODEL_AXIS",
    "check_divisible",
    "device_mesh",
    "layout_map",
    "load_weights_sharded",
    "model_parallel",
    "parameter_bytes_per_device",
    "place",
    "sharded_loading",
]
