"""GPT-2 (Radford et al. 2019): pre-LN causal Transformer with a final LayerNorm.

Block: x = x + Attn(LN(x)); x = x + FFN(LN(x)); after the last block LN, then the tied
head x·Eᵀ. LayerNorm epsilon 1e-5. HuggingFace's GPT-2 uses the tanh GELU
(`hidden_act='gelu_new'`, which its config.json names `activation_function`).
"""

import keras

from ..checkpoints.maps import gpt2 as gpt2_names
from .gpt import GPT
from .registry import register_model


@register_model("gpt2")
class GPT2(GPT):
    name_map = gpt2_names
    takes_segments = False

    def apply_main_layers(self, x, index):
        attention_name = f"Transformer-{index}-MultiHeadSelfAttention"
        ffn_name = f"Transformer-{index}-FeedForward"
        h = self.layer_norm(x, name=f"{attention_name}-Norm")
        x = self.residual(x, self.attention_layer(h, index), attention_name)
        h = self.layer_norm(x, name=f"{ffn_name}-Norm")
        return self.residual(x, self.feed_forward_layer(h, ffn_name), ffn_name)

    def apply_final_layers(self, x):
        x = self.layer_norm(x, name="Output-Norm")
        x = self.apply(x, keras.layers.Dropout, rate=self.dropout_rate, name="Output-Dropout")
        return super().apply_final_layers(x)

    def cached_call(self, token_ids, position_ids, attention_bias, caches, cache_index, segment_ids=None):
        x = self.embed_positions(self.layer("Embedding-Token")(token_ids), position_ids)
        new_caches = []
        for i in range(self.num_hidden_layers):
            name = f"Transformer-{i}-MultiHeadSelfAttention"
            h = self.layer(f"{name}-Norm")(x)
            h, cache = self.self_attention(name, h, attention_bias, caches[i], cache_index)
            x = x + h
            h = self.layer(f"Transformer-{i}-FeedForward-Norm")(x)
            x = x + self.layer(f"Transformer-{i}-FeedForward")(h)
            new_caches.append(cache)
        x = self.layer("Output-Norm")(x)
        return self.layer("Embedding-Token")(x, mode="dense"), new_caches

    def variable_mapping(self):
        mapping = {
            layer: [name.replace("output/LayerNorm", "input/LayerNorm") for name in names]
            for layer, names in super().variable_mapping().items()
            if layer != "Embedding-Segment"
        }
        mapping["Output-Norm"] = ["gpt/output/LayerNorm/gamma", "gpt/output/LayerNorm/beta"]
        return mapping
