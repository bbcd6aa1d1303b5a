"""The layout rules by name: which variables of each family are split, and clear errors."""

import keras
import pytest

from kerasformers.distribution import device_mesh, layout_map
from kerasformers.models import build_transformer_model

TINY = {
    "vocab_size": 50,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position": 32,
}
# One family per structure (every family runs sharded in test_model_parallel.py).
FAMILIES = {
    "bert": {"with_pool": True, "with_mlm": True},
    "gau_alpha": {"attention_key_size": 16},
    "t5.1.1": {},
}
# Fake device names are enough: a LayoutMap only needs the mesh's shape and axis names.
MESH = device_mesh(2, 4, devices=[f"cpu:{i}" for i in range(8)])


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_variable_gets_at_most_one_layout(family):
    model = build_transformer_model(model=family, **TINY, **FAMILIES[family])
    layouts = layout_map(model, MESH)  # a path matching two rules would raise here
    axes = {v.path: layouts[v.path].axes if layouts[v.path] is not None else None for v in model.weights}
    for path, value in axes.items():
        if path.endswith(
            ("q_dense/kernel", "k_dense/kernel", "v_dense/kernel", "i0_dense/kernel", "i_dense/kernel")
        ):
            assert value == (None, "model"), path
        elif path.endswith("o_dense/kernel"):
            assert value == ("model", None), path
        elif "Embedding-Token/" in path:
            assert value == (None, "model"), path
        elif path.endswith(("gamma", "beta")) or "Relative-Position" in path:
            assert value is None, path  # replicated


def test_heads_and_lora_adapters_follow_their_layer():
    layouts = layout_map("bert", MESH)
    assert layouts["Pooler-Dense/kernel"].axes == ("model", None)
    assert layouts["MLM-Dense/kernel"].axes == ("model", None)
    assert layouts["Decoder-Output-LM/kernel"].axes == ("model", None)
    assert layouts["Transformer-2-MultiHeadSelfAttention/q_dense/bias"].axes == ("model",)
    assert layouts["Transformer-2-MultiHeadSelfAttention/q_dense/lora_kernel_b"].axes == (None, "model")
    assert layouts["Transformer-2-FeedForward/o_dense/lora_kernel_a"].axes == ("model", None)
    assert layouts["Embedding-Token/lora_embeddings_b"].axes == (None, "model")
    assert layouts["Transformer-2-FeedForward/o_dense/bias"] is None
    assert layouts["head/kernel"] is None  # a user's own layer stays replicated


def test_indivisible_variable_is_named():
    model = build_transformer_model(**{**TINY, "intermediate_size": 66})
    with pytest.raises(ValueError, match=r"Transformer-0-FeedForward/i0_dense/kernel \(32, 66\).*size 4"):
        layout_map(model, MESH)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'bret'"):
        layout_map("bret", MESH)
    with pytest.raises(ValueError, match="needs a 'model' axis"):
        layout_map("bert", keras.distribution.DeviceMesh((8,), ("batch",), [f"cpu:{i}" for i in range(8)]))
    with pytest.raises(ValueError, match="data=3 does not divide"):
        device_mesh(3, devices=[f"cpu:{i}" for i in range(8)])
    with pytest.raises(TypeError, match="got int"):
        layout_map(3, MESH)
