"""ALBERT (Lan et al. 2019): BERT with a factorised embedding (E < H, then a mapping to H)
and ONE set of Transformer weights applied ``num_hidden_layers`` times.

Sharing falls out of the template: `apply` creates a layer once per name, so using the
same names in every iteration reuses the same layers. ``albert_unshared`` keeps BERT's
per-layer names and loads the shared checkpoint weights into every layer (for fine-tuning
the layers apart).
"""

from ..checkpoints.maps import albert as albert_names
from .bert import BERT
from .registry import register_model

_SHARED = "bert/encoder/transformer/group_0/inner_group_0/"


def _shared_block_mapping():
    """TF1 names of the one shared block, keyed by the block's layer-name suffix."""
    return {
        "MultiHeadSelfAttention": [
            _SHARED + f"attention_1/{part}/{kind}"
            for part in ("self/query", "self/key", "self/value", "output/dense")
            for kind in ("kernel", "bias")
        ],
        "MultiHeadSelfAttention-Norm": [_SHARED + "LayerNorm/gamma", _SHARED + "LayerNorm/beta"],
        "FeedForward": [
            _SHARED + "ffn_1/intermediate/dense/kernel",
            _SHARED + "ffn_1/intermediate/dense/bias",
            _SHARED + "ffn_1/intermediate/output/dense/kernel",
            _SHARED + "ffn_1/intermediate/output/dense/bias",
        ],
        "FeedForward-Norm": [_SHARED + "LayerNorm_1/gamma", _SHARED + "LayerNorm_1/beta"],
    }


def _embeddings_and_heads(mapping):
    return {name: names for name, names in mapping.items() if not name.startswith("Transformer-")}


@register_model("albert_unshared")
class ALBERT_Unshared(BERT):
    name_map = albert_names

    def variable_mapping(self):
        mapping = _embeddings_and_heads(super().variable_mapping())
        for i in range(self.num_hidden_layers):
            for suffix, names in _shared_block_mapping().items():
                mapping[f"Transformer-{i}-{suffix}"] = names
        return mapping

    def named_weights(self, mapping=None):
        """Export: the unshared layers are written as the (single) shared block of layer 0."""
        if mapping is None:
            mapping = {
                name: names
                for name, names in self.variable_mapping().items()
                if not name.startswith("Transformer-") or name.startswith("Transformer-0-")
            }
        return super().named_weights(mapping)


@register_model("albert")
class ALBERT(BERT):
    name_map = albert_names

    def block_name(self, index):
        return "Transformer"  # one name for every block: the layers (and weights) are shared

    def variable_mapping(self):
        mapping = _embeddings_and_heads(super().variable_mapping())
        for suffix, names in _shared_block_mapping().items():
            mapping[f"Transformer-{suffix}"] = names
        return mapping
