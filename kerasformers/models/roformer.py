"""RoFormer (Su et al. 2021) and RoFormer-v2.

RoFormer is BERT's layout with its positions inside attention, as NEZHA's, but rotary
(RoPE) instead of relative embeddings: q and k are rotated pairwise by angles proportional
to their positions, so q_i·k_j depends on i - j only. No position variables.

RoFormer-v2 strips it down: no biases anywhere, and every LayerNorm becomes a
parameter-free RMS norm x / √(mean(x²) + ε); the MLM head is the tied embedding alone.
With ``layer_norm_cond`` its norms become conditional (gain 1, offset 0 until trained).
"""

import keras
import numpy as np

from ..checkpoints import CheckpointError
from ..checkpoints.maps import roformer as roformer_names
from ..layers import Embedding, LayerNormalization, RotaryPositionTable
from .bert import BERT
from .nezha import PositionsInAttention
from .registry import register_model


def hf_sinusoid_table(positions, dim):
    """HuggingFace RoFormer's position table: sin of the even-index angles, then cos of the odd ones."""
    angles = np.arange(positions)[:, None] / np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None]
    return np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1)


@register_model("roformer")
class RoFormer(PositionsInAttention, BERT):
    name_map = roformer_names
    p_bias = "rotary"

    def __init__(self, max_position=512, **kwargs):
        kwargs.pop("max_relative_position", None)  # bert4keras's RoFormer (a NEZHA subclass) accepted it
        super().__init__(max_position=max_position, **kwargs)
        if self.extra_config.get("rotary_value"):
            raise ValueError(
                "roformer: config has rotary_value=true (RoPE on the values too), which "
                "bert4keras's RoFormer does not use and kerasformers does not support"
            )

    def check_tied_copies(self, reader):
        """HF RoFormer stores its rotary table as a (frozen) tensor; it must be the fixed sinusoid we compute."""
        super().check_tied_copies(reader)
        for name in ("roformer.encoder.embed_positions.weight", "encoder.embed_positions.weight"):
            if name in reader:
                table = np.asarray(reader[name], dtype="float64")
                expected = hf_sinusoid_table(*table.shape)
                error = float(np.max(np.abs(table - expected))) if table.size else 0.0
                if error > 1e-4:
                    raise CheckpointError(
                        f"{reader.path}: {name!r} is not RoFormer's fixed sinusoid table (max abs diff "
                        f"{error:.3g}); kerasformers computes rotary positions and cannot use a changed table"
                    )

    def compute_position_bias(self, x=None):
        if self.position_bias is None:
            self.position_bias = self.apply(
                x, RotaryPositionTable, name="Embedding-Rotary-Position", dim=self.attention_key_size
            )
        return self.position_bias


@register_model("roformer_v2")
class RoFormerV2(RoFormer):
    name_map = None  # no HuggingFace layout
    vocab_variables = ("bert/embeddings/word_embeddings",)

    use_bias = False

    def layer_norm(self, x, name, **kwargs):
        """Parameter-free RMS norm; conditional (with gain/offset) when ``layer_norm_cond`` is set."""
        cond, hidden_units, hidden_act = self.layer_norm_conds
        if cond is None:
            return self.apply(
                x,
                LayerNormalization,
                name=name,
                zero_mean=False,
                center=False,
                scale=False,
                epsilon=self.layer_norm_eps,
            )
        return self.apply(
            [x, cond],
            LayerNormalization,
            name=name,
            zero_mean=False,
            epsilon=self.layer_norm_eps,
            conditional=True,
            hidden_units=hidden_units,
            hidden_activation=hidden_act,
            hidden_initializer=self.initializer,
        )

    def apply_embeddings(self, inputs):
        """Token (+ segment) embeddings → dropout → RMS norm (→ bias-free mapping)."""
        x, _ = self.apply_token_segment_embeddings(inputs)
        x = self.dropout(x, "Embedding-Dropout")
        x = self.layer_norm(x, "Embedding-Norm")
        if self.embedding_size != self.hidden_size:
            x = self.apply(
                x,
                keras.layers.Dense,
                units=self.hidden_size,
                use_bias=False,
                kernel_initializer=self.initializer,
                name="Embedding-Mapping",
            )
        return x

    def apply_final_layers(self, x):
        if not self.with_mlm:
            return x
        if self.embedding_size != self.hidden_size:
            x = self.apply(
                x,
                keras.layers.Dense,
                units=self.embedding_size,
                use_bias=False,
                kernel_initializer=self.initializer,
                name="Output-Mapping",
            )
        x = self.dropout(x, "Output-MLM-Dropout")
        x = self.apply(x, Embedding, arguments={"mode": "dense"}, name="Embedding-Token")
        activation = "softmax" if self.with_mlm is True else self.with_mlm
        return self.apply(x, keras.layers.Activation, activation=activation, name="Output-MLM-Activation")

    def variable_mapping(self):
        mapping = {
            "Embedding-Token": ["bert/embeddings/word_embeddings"],
            "Embedding-Segment": ["bert/embeddings/token_type_embeddings"],
            "Embedding-Mapping": ["bert/encoder/embedding_hidden_mapping_in/kernel"],
            "Output-Mapping": ["cls/predictions/transform/dense/kernel"],
        }
        for i in range(self.num_hidden_layers):
            block = f"bert/encoder/layer_{i}/"
            mapping[f"Transformer-{i}-MultiHeadSelfAttention"] = [
                block + f"attention/{part}/kernel"
                for part in ("self/query", "self/key", "self/value", "output/dense")
            ]
            mapping[f"Transformer-{i}-FeedForward"] = [
                block + "intermediate/dense/kernel",
                block + "output/dense/kernel",
            ]
        return mapping
