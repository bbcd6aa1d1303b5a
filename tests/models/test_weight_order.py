"""Checkpoint names go to variables by path, whatever order a layer created its variables in."""

import random
import types

import keras
import numpy as np
import pytest

from kerasformers.models import build_transformer_model
from kerasformers.models.weight_order import mapped_variables

TINY = dict(vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=12)


def shuffled(layer, seed):
    """The same layer seen with its variables in another creation order."""
    variables = list(layer.weights)
    random.Random(seed).shuffle(variables)
    view = types.SimpleNamespace(name=layer.name, weights=variables)
    if hasattr(layer, "weight_order"):
        view.weight_order = layer.weight_order
    return view


@pytest.mark.parametrize(
    "model, options",
    [
        ("bert", dict(max_position=16, with_mlm=True)),
        ("gau_alpha", dict(max_position=16, attention_key_size=4)),
    ],
)
def test_any_creation_order_maps_to_the_same_checkpoint_names(model, options):
    transformer = build_transformer_model(model=model, return_keras_model=False, **TINY, **options)
    for layer_name in transformer.variable_mapping():
        layer = transformer.layers.get(transformer.prefixed(layer_name))
        if layer is None or len(layer.weights) < 2:
            continue
        expected = [v.path for v in mapped_variables(layer)]
        for seed in range(3):
            assert [v.path for v in mapped_variables(shuffled(layer, seed))] == expected, layer_name


def test_query_and_key_of_equal_shape_cannot_swap():
    transformer = build_transformer_model(model="bert", return_keras_model=False, max_position=16, **TINY)
    attention = transformer.layers["Transformer-0-MultiHeadSelfAttention"]
    names = transformer.variable_mapping()["Transformer-0-MultiHeadSelfAttention"]
    pairs = dict(zip(names, (v.path for v in mapped_variables(shuffled(attention, 7)))))
    assert pairs["bert/encoder/layer_0/attention/self/query/kernel"].endswith("/q_dense/kernel")
    assert pairs["bert/encoder/layer_0/attention/self/key/kernel"].endswith("/k_dense/kernel")
    assert pairs["bert/encoder/layer_0/attention/output/dense/bias"].endswith("/o_dense/bias")


def test_unnamed_extras_come_after_the_mapped_weights():
    """A conditional LayerNorm's projections are not in the checkpoint: they follow gamma and beta."""
    condition = keras.Input(shape=(3,))
    transformer = build_transformer_model(
        model="bert",
        return_keras_model=False,
        max_position=16,
        layer_norm_cond=condition,
        layer_norm_cond_hidden_size=4,
        additional_input_layers=condition,
        **TINY,
    )
    norm = transformer.layers["Embedding-Norm"]
    ordered = [v.path.split("/", 1)[1] for v in mapped_variables(shuffled(norm, 3))]
    assert ordered[:2] == ["gamma", "beta"]
    assert len(ordered) > 2 and np.all(["/" in p for p in ordered[2:]])
