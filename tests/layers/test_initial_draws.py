"""Every weight gets its own initial draw, as in bert4keras (Keras 2).

Keras 3 fixes an unseeded initializer's seed when the instance is made, so a layer that handed one
instance to several sub-layers gave them identical kernels: q = k = v = o at init, which kept models
trained from scratch on the unigram plateau (docs/pretraining.md).
"""

import itertools

import numpy as np
import pytest
from keras import ops

from kerasformers.layers import (
    AtrousSelfAttention,
    EfficientGlobalPointer,
    FeedForward,
    GatedAttentionUnit,
    MultiHeadAttention,
)
from kerasformers.models import build_transformer_model


def _assert_all_draws_differ(weights):
    kernels = [
        (w.path, ops.convert_to_numpy(w)) for w in weights if w.path.endswith(("kernel", "embeddings"))
    ]
    assert len(kernels) >= 2
    for (name_a, a), (name_b, b) in itertools.combinations(kernels, 2):
        if a.size == b.size:
            assert not np.array_equal(np.sort(a.ravel()), np.sort(b.ravel())), (
                f"{name_a} and {name_b} are one draw"
            )


@pytest.mark.parametrize(
    "make, inputs",
    [
        (lambda: MultiHeadAttention(2, 8), lambda x: [x, x, x]),
        (lambda: FeedForward(16, kernel_initializer="glorot_uniform"), lambda x: x),
        (lambda: FeedForward(16, activation=["gelu", "linear"]), lambda x: x),
        (lambda: GatedAttentionUnit(units=16, key_size=8), lambda x: x),
        (lambda: EfficientGlobalPointer(heads=16, head_size=8), lambda x: x),
        (lambda: AtrousSelfAttention(2, 8, rate=2), lambda x: x),
    ],
    ids=["attention", "ffn", "gated-ffn", "gau", "efficient-global-pointer", "sparse-attention"],
)
def test_sub_layers_draw_their_own_kernels(make, inputs):
    layer = make()
    layer(inputs(np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")))
    _assert_all_draws_differ(layer.weights)


def test_a_bert_built_from_scratch_has_no_repeated_draw():
    bert = build_transformer_model(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position=16,
    )
    _assert_all_draws_differ(bert.weights)
