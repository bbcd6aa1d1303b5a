"""GPT-2 (Radford et al. 2019): pre-LN causal Transformer with a final LayerNorm.

Block: x = x + Attn(LN(x)); x = x + FFN(LN(x)); after the last block LN, then the tied
head x·Eᵀ. LayerNorm epsilon 1e-5. HuggingFace's GPT-2 uses the tanh GELU
(`hidden_act='gelu_new'`, which its config.json names `activation_function`).
"""

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
        x = self.residual(x, self.self_attention(h, attention_name), attention_name)
        h = self.layer_norm(x, name=f"{ffn_name}-Norm")
        return self.residual(x, self.feed_forward(h, ffn_name), ffn_name)

    def apply_final_layers(self, x):
        x = self.layer_norm(x, name="Output-Norm")
        x = self.dropout(x, "Output-Dropout")
        return super().apply_final_layers(x)

    def variable_mapping(self):
        mapping = {
            layer: [name.replace("output/LayerNorm", "input/LayerNorm") for name in names]
            for layer, names in super().variable_mapping().items()
            if layer != "Embedding-Segment"
        }
        mapping["Output-Norm"] = ["gpt/output/LayerNorm/gamma", "gpt/output/LayerNorm/beta"]
        return mapping
