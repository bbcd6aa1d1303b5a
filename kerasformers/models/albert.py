"""ALBERT (Lan et al. 2019): BERT with a factorised embedding (E < H, then a mapping to H)
and ONE set of Transformer weights applied ``num_hidden_layers`` times.

Sharing falls out of the template: `apply` creates a layer once per name, so using the
same names in every iteration reuses the same layers. ``albert_unshared`` keeps BERT's
per-layer names and loads the shared checkpoint weights into every layer (for fine-tuning
the layers apart).
"""
import keras

from ..checkpoints.maps import albert as albert_names
from ..layers import FeedForward, MultiHeadAttention
from .bert import BERT
from .registry import register_model

_SHARED = "bert/encoder/transformer/group_0/inner_group_0/"


def _shared_block_mapping():
    """TF1 names of the one shared block, keyed by the block's layer-name suffix."""
    return {
        "MultiHeadSelfAttention": [_SHARED + f"attention_1/{part}/{kind}"
                                   for part in ("self/query", "self/key", "self/value", "output/dense")
                                   for kind in ("kernel", "bias")],
        "MultiHeadSelfAttention-Norm": [_SHARED + "LayerNorm/gamma", _SHARED + "LayerNorm/beta"],
        "FeedForward": [_SHARED + "ffn_1/intermediate/dense/kernel", _SHARED + "ffn_1/intermediate/dense/bias",
                        _SHARED + "ffn_1/intermediate/output/dense/kernel",
                        _SHARED + "ffn_1/intermediate/output/dense/bias"],
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
            mapping = {name: names for name, names in self.variable_mapping().items()
                       if not name.startswith("Transformer-") or name.startswith("Transformer-0-")}
        return super().named_weights(mapping)


@register_model("albert")
class ALBERT(BERT):
    name_map = albert_names

    def apply_main_layers(self, x, index):
        """BERT's post-LN block under index-free names, so every layer reuses the same weights."""
        attention_name, ffn_name = "Transformer-MultiHeadSelfAttention", "Transformer-FeedForward"
        arguments = {"attention_bias": self.compute_attention_bias()}
        if self.residual_attention_scores:
            arguments.update(previous_scores=self.attention_scores, return_scores=True)
        h = self.apply([x, x, x], MultiHeadAttention, arguments=arguments, name=attention_name,
                       heads=self.num_attention_heads, head_size=self.attention_head_size,
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
        mapping = _embeddings_and_heads(super().variable_mapping())
        for suffix, names in _shared_block_mapping().items():
            mapping[f"Transformer-{suffix}"] = names
        return mapping
