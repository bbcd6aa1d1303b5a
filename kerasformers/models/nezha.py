"""NEZHA (Wei et al. 2019, Huawei): BERT with functional relative positions instead of a
learned absolute table.

Attention (Shaw et al. 2018, "typical relative"): with a_ij the sinusoid of the clipped
distance clip(j - i, -K, K) + K (K = ``max_relative_position``),

    score_ij = q_i · (k_j + a_ij) / √d,      out_i = Σ_j p_ij (v_j + a_ij).

The table has no variables, so the checkpoint is BERT's minus ``position_embeddings``.
This module also holds the embeddings-without-positions + post-LN block shared by the
RoFormer family (bert4keras's RoFormer subclasses NEZHA the same way).
"""
import keras
from keras import ops

from ..checkpoints.maps import nezha as nezha_names
from ..layers import Embedding, FeedForward, MultiHeadAttention, sinusoidal_embeddings
from .bert import BERT
from .registry import register_model


@keras.saving.register_keras_serializable(package="kerasformers")
class RelativePositionTable(keras.layers.Layer):
    """x (B, T, ·) → (T, T, dim): sinusoid of row clip(j - i, -K, K) + K for every pair (i, j)."""

    def __init__(self, max_relative_position, dim, **kwargs):
        super().__init__(**kwargs)
        self.max_relative_position = max_relative_position
        self.dim = dim

    def call(self, x):
        positions = ops.arange(ops.shape(x)[1])
        k = self.max_relative_position
        relative = ops.clip(positions[None, :] - positions[:, None], -k, k) + k  # (T, T)
        return ops.cast(sinusoidal_embeddings(relative, self.dim), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[1], input_shape[1], self.dim)

    def get_config(self):
        return {**super().get_config(), "max_relative_position": self.max_relative_position, "dim": self.dim}


@keras.saving.register_keras_serializable(package="kerasformers")
class PositionalAttention(MultiHeadAttention):
    """MultiHeadAttention whose position scheme (``p_bias``) is fixed at construction.

    The call then takes tensors only, which is what gradient recomputation needs
    (``jax.checkpoint`` rejects string arguments) when the model is built with ``remat=True``.
    """

    def __init__(self, p_bias, **kwargs):
        super().__init__(**kwargs)
        self.p_bias = p_bias

    def call(self, inputs, attention_bias=None, position_bias=None, previous_scores=None, return_scores=False,
             training=None):
        return super().call(inputs, attention_bias=attention_bias, position_bias=position_bias,
                            p_bias=self.p_bias, previous_scores=previous_scores, return_scores=return_scores,
                            training=training)

    def get_config(self):
        return {**super().get_config(), "p_bias": self.p_bias}


@register_model("nezha")
class NEZHA(BERT):
    name_map = nezha_names
    p_bias = "typical_relative"

    def __init__(self, max_position=512, max_relative_position=64, **kwargs):
        super().__init__(max_position=max_position, **kwargs)
        self.max_relative_position = max_relative_position

    def apply_embeddings(self, inputs):
        """Token (+ segment) embeddings → LN → dropout (→ mapping); positions live in attention."""
        inputs = list(inputs)
        token_ids = inputs.pop(0)
        segment_ids = inputs.pop(0) if self.segment_vocab_size > 0 else None
        self.compute_attention_bias([token_ids, segment_ids])
        x = self.apply(token_ids, Embedding, name="Embedding-Token", input_dim=self.vocab_size,
                       output_dim=self.embedding_size, embeddings_initializer=self.initializer)
        if segment_ids is not None:
            s = self.apply(segment_ids, Embedding, name="Embedding-Segment", input_dim=self.segment_vocab_size,
                           output_dim=self.embedding_size, embeddings_initializer=self.initializer)
            x = self.apply([x, s], keras.layers.Add, name="Embedding-Token-Segment")
        x = self.layer_norm(x, name="Embedding-Norm")
        x = self.apply(x, keras.layers.Dropout, rate=self.dropout_rate, name="Embedding-Dropout")
        if self.embedding_size != self.hidden_size:
            x = self.apply(x, keras.layers.Dense, units=self.hidden_size,
                           kernel_initializer=self.initializer, name="Embedding-Mapping")
        return x

    def compute_position_bias(self, x=None):
        if self.position_bias is None:
            self.position_bias = self.apply(x, RelativePositionTable, name="Embedding-Relative-Position",
                                            max_relative_position=self.max_relative_position,
                                            dim=self.attention_head_size)
        return self.position_bias

    def apply_main_layers(self, x, index):
        """Post-LN block: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""
        attention_name = f"Transformer-{index}-MultiHeadSelfAttention"
        ffn_name = f"Transformer-{index}-FeedForward"
        arguments = {"attention_bias": self.compute_attention_bias(),
                     "position_bias": self.compute_position_bias(x)}
        if self.residual_attention_scores:
            arguments.update(previous_scores=self.attention_scores, return_scores=True)
        h = self.apply([x, x, x], PositionalAttention, arguments=arguments, name=attention_name,
                       p_bias=self.p_bias, heads=self.num_attention_heads, head_size=self.attention_head_size,
                       out_dim=self.hidden_size, key_size=self.attention_key_size,
                       attention_dropout=self.attention_dropout_rate, kernel_initializer=self.initializer)
        if self.residual_attention_scores:
            h, self.attention_scores = h
        h = self.apply(h, keras.layers.Dropout, rate=self.dropout_rate, name=f"{attention_name}-Dropout")
        x = self.apply([x, h], keras.layers.Add, name=f"{attention_name}-Add")
        x = self.layer_norm(x, name=f"{attention_name}-Norm")

        h = self.apply(x, FeedForward, name=ffn_name, units=self.intermediate_size,
                       activation=self.hidden_act, kernel_initializer=self.initializer)
        h = self.apply(h, keras.layers.Dropout, rate=self.dropout_rate, name=f"{ffn_name}-Dropout")
        x = self.apply([x, h], keras.layers.Add, name=f"{ffn_name}-Add")
        return self.layer_norm(x, name=f"{ffn_name}-Norm")

    def variable_mapping(self):
        mapping = super().variable_mapping()
        del mapping["Embedding-Position"]
        return mapping
