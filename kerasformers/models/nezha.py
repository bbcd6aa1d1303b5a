"""NEZHA (Wei et al. 2019, Huawei): BERT with functional relative positions instead of a
learned absolute table.

Attention (Shaw et al. 2018, "typical relative"): with a_ij the sinusoid of the clipped
distance clip(j - i, -K, K) + K (K = ``max_relative_position``),

    score_ij = q_i · (k_j + a_ij) / √d,      out_i = Σ_j p_ij (v_j + a_ij).

The table has no variables, so the checkpoint is BERT's minus ``position_embeddings``.
`PositionsInAttention` (here) is the piece RoFormer shares with NEZHA: no position table, an
attention that reads a position table (bert4keras subclassed NEZHA for it; a mixin keeps
RoFormer → BERT shallow).
"""

from ..checkpoints.maps import nezha as nezha_names
from ..layers import PositionalAttention, RelativePositionTable
from .bert import BERT
from .registry import register_model


class PositionsInAttention:
    """Mixin for BERT-layout families whose positions act inside attention rather than as a
    learned table added to the embeddings (NEZHA's relative table, RoFormer's rotary positions).

    The family sets ``p_bias`` (the attention's position scheme) and implements
    ``compute_position_bias(x)`` (the table the attention reads, created once).
    """

    p_bias = None

    def apply_position_embeddings(self, x, position_ids):
        return x  # no learned absolute table

    def attention_layer(self):
        return PositionalAttention, {"p_bias": self.p_bias}

    def attention_arguments(self, x):
        return {**super().attention_arguments(x), "position_bias": self.compute_position_bias(x)}

    def variable_mapping(self):
        mapping = super().variable_mapping()
        del mapping["Embedding-Position"]
        return mapping


@register_model("nezha")
class NEZHA(PositionsInAttention, BERT):
    name_map = nezha_names
    p_bias = "typical_relative"

    def __init__(self, max_position=512, max_relative_position=64, **kwargs):
        super().__init__(max_position=max_position, **kwargs)
        self.max_relative_position = max_relative_position

    def compute_position_bias(self, x=None):
        if self.position_bias is None:
            self.position_bias = self.apply(
                x,
                RelativePositionTable,
                name="Embedding-Relative-Position",
                max_relative_position=self.max_relative_position,
                dim=self.attention_head_size,
            )
        return self.position_bias
