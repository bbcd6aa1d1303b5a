"""OpenAI GPT / CDial-GPT: a causal, post-LN Transformer with a tied LM head.

Block (as BERT): x = LN(x + Attn(x)); x = LN(x + FFN(x)); no LayerNorm on the embeddings.
Inputs: token_ids (B, T) [, segment_ids (B, T)]. Output: next-token distribution
(B, T, vocab) through the token embedding (x·Eᵀ) and `final_activation` ('softmax').

Cached decoding (`Transformer.cached_call`) runs these same template steps over a KV cache.
"""

import keras

from ..checkpoints.maps import gpt as gpt_names
from ..layers import Embedding, PositionEmbedding
from .bert import post_ln_block_mapping
from .registry import register_model
from .transformer import LM_Mask, Transformer

# HuggingFace GPT / GPT-2 config keys → Transformer keyword arguments.
_HF_KEYS = {
    "n_embd": "hidden_size",
    "n_layer": "num_hidden_layers",
    "n_head": "num_attention_heads",
    "n_inner": "intermediate_size",
    "n_positions": "max_position",
    "activation_function": "hidden_act",
    "afn": "hidden_act",
    "resid_pdrop": "dropout_rate",
    "attn_pdrop": "attention_dropout_rate",
}


def from_hf_config(kwargs):
    """Accept HuggingFace GPT/GPT-2 config names next to bert4keras's."""
    kwargs = dict(kwargs)
    for hf, ours in _HF_KEYS.items():
        if hf in kwargs:
            value = kwargs.pop(hf)
            if ours not in kwargs or ours == "max_position":
                kwargs[ours] = value
    if "pad_token_id" in kwargs and kwargs["pad_token_id"] is None:
        kwargs["pad_token_id"] = -1  # HF GPT-2 has no padding id: mask nothing
    if kwargs.get("intermediate_size") is None and "hidden_size" in kwargs:
        kwargs["intermediate_size"] = 4 * kwargs["hidden_size"]
    return kwargs


class CausalMixin:
    """GPT-style families are language models whatever `application` says."""

    attention_pattern = "causal"

    def compute_attention_bias(self, inputs=None):
        return LM_Mask.compute_attention_bias(self, inputs)


@register_model("gpt")
class GPT(CausalMixin, Transformer):
    name_map = gpt_names
    vocab_variables = ("gpt/embeddings/word_embeddings",)
    tied_copies = (
        ("lm_head.weight", "transformer.tokens_embed.weight"),
        ("lm_head.weight", "transformer.wte.weight"),
    )

    #: GPT takes segment ids when the config has segments; GPT-2 and GPT2_ML never do (as in bert4keras).
    takes_segments = True

    def __init__(
        self,
        max_position,
        segment_vocab_size=0,
        final_activation="softmax",
        shared_segment_embeddings=False,
        hierarchical_position=None,
        **kwargs,
    ):
        kwargs = from_hf_config({"max_position": max_position, **kwargs})
        max_position = kwargs.pop("max_position")
        kwargs.setdefault("layer_norm_eps", 1e-5)
        for unused in ("with_pool", "with_nsp", "with_mlm"):
            kwargs.pop(unused, None)
        super().__init__(**kwargs)
        self.max_position = max_position
        self.segment_vocab_size = segment_vocab_size if self.takes_segments else 0
        self.hierarchical_position = hierarchical_position
        self.final_activation = final_activation
        if self.residual_attention_scores:
            raise ValueError(
                f"{type(self).__name__} does not support residual_attention_scores=True (bert4keras "
                "0.11.5 fails on it too: its causal mask cannot be added to attention scores)"
            )
        self.shared_segment_embeddings = shared_segment_embeddings

    def get_inputs(self):
        inputs = [
            keras.Input(shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Token"))
        ]
        if self.segment_vocab_size > 0:
            inputs.append(
                keras.Input(shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Segment"))
            )
        return inputs

    def apply_embeddings(self, inputs):
        token_ids = inputs[0]
        self.attention_bias_for(token_ids)
        x = self.token_embedding(token_ids)
        if self.segment_vocab_size > 0:
            x = self.apply(
                [x, self.segment_embedding(inputs[1])], keras.layers.Add, name="Embedding-Token-Segment"
            )
        x = self.apply(
            x,
            PositionEmbedding,
            name="Embedding-Position",
            input_dim=self.max_position,
            output_dim=self.embedding_size,
            merge_mode="add",
            hierarchical=self.hierarchical_position,
            embeddings_initializer=self.initializer,
        )
        return self.dropout(x, "Embedding-Dropout")

    def token_embedding(self, token_ids):
        return self.apply(
            token_ids,
            Embedding,
            name="Embedding-Token",
            input_dim=self.vocab_size,
            output_dim=self.embedding_size,
            embeddings_initializer=self.initializer,
        )

    def segment_embedding(self, segment_ids):
        name = "Embedding-Token" if self.shared_segment_embeddings else "Embedding-Segment"
        return self.apply(
            segment_ids,
            Embedding,
            name=name,
            input_dim=self.segment_vocab_size,
            output_dim=self.embedding_size,
            embeddings_initializer=self.initializer,
        )

    def self_attention(self, x, name):
        return self.attention([x, x, x], name, {"attention_bias": self.compute_attention_bias()})

    def apply_main_layers(self, x, index):
        attention_name = f"Transformer-{index}-MultiHeadSelfAttention"
        ffn_name = f"Transformer-{index}-FeedForward"
        x = self.residual(x, self.self_attention(x, attention_name), attention_name)
        x = self.layer_norm(x, name=f"{attention_name}-Norm")
        x = self.residual(x, self.feed_forward(x, ffn_name), ffn_name)
        return self.layer_norm(x, name=f"{ffn_name}-Norm")

    def apply_final_layers(self, x):
        x = self.apply(x, Embedding, arguments={"mode": "dense"}, name="Embedding-Token")
        return self.apply(x, keras.layers.Activation, activation=self.final_activation, name="LM-Activation")

    # ------------------------------------------------------------------ weights
    def variable_mapping(self):
        mapping = {
            "Embedding-Token": ["gpt/embeddings/word_embeddings"],
            "Embedding-Segment": ["gpt/embeddings/token_type_embeddings"],
            "Embedding-Position": ["gpt/embeddings/position_embeddings"],
        }
        for i in range(self.num_hidden_layers):
            block = f"gpt/transformer/layer_{i}/"
            mapping.update(post_ln_block_mapping(i, block))
        return mapping
