"""GPT2_ML (imcaspar/gpt2-ml, the 1.5B Chinese GPT-2): closer to GPT than to GPT-2.

Embeddings: token + learned position, then LayerNorm. Block:
    h = x + Attn(x);  out = LN₁(h + FFN(LN₀(h)))
LayerNorm epsilon 1e-5; tied head x·Eᵀ. Only the original TF layout (`newslm/...`)
exists; there is no HuggingFace model for it.
"""

from ..checkpoints.maps import gpt2_ml as gpt2_ml_names
from .gpt import GPT
from .registry import register_model


@register_model("gpt2_ml")
class GPT2_ML(GPT):
    name_map = gpt2_ml_names
    takes_segments = False
    vocab_variables = ("newslm/embeddings/word_embed",)

    def apply_embeddings(self, inputs):
        x = super().apply_embeddings(inputs)
        return self.layer_norm(x, name="Embedding-Norm")

    def apply_main_layers(self, x, index):
        attention_name = f"Transformer-{index}-MultiHeadSelfAttention"
        ffn_name = f"Transformer-{index}-FeedForward"
        x = self.residual(x, self.self_attention(x, attention_name), attention_name)
        h = self.layer_norm(x, name=f"{ffn_name}-Norm-0")
        x = self.residual(x, self.feed_forward(h, ffn_name), ffn_name)
        return self.layer_norm(x, name=f"{ffn_name}-Norm-1")

    def variable_mapping(self):
        mapping = {
            "Embedding-Token": ["newslm/embeddings/word_embed"],
            "Embedding-Position": ["newslm/embeddings/pos_embed"],
            "Embedding-Norm": [
                "newslm/embeddings/LayerNorm_embed_norm/gamma",
                "newslm/embeddings/LayerNorm_embed_norm/beta",
            ],
        }
        for i in range(self.num_hidden_layers):
            block = f"newslm/layer{i:02d}/"
            mapping[f"Transformer-{i}-MultiHeadSelfAttention"] = [
                block + f"{part}/{kind}"
                for part in ("query_layer", "key_layer", "value_layer", "context_projection_layer")
                for kind in ("kernel", "bias")
            ]
            mapping[f"Transformer-{i}-FeedForward-Norm-0"] = [
                block + "LayerNorm_mlp_ln0/gamma",
                block + "LayerNorm_mlp_ln0/beta",
            ]
            mapping[f"Transformer-{i}-FeedForward"] = [
                block + "intermediate/kernel",
                block + "intermediate/bias",
                block + "output/kernel",
                block + "output/bias",
            ]
            mapping[f"Transformer-{i}-FeedForward-Norm-1"] = [
                block + "LayerNorm_mlp_ln1/gamma",
                block + "LayerNorm_mlp_ln1/beta",
            ]
        return mapping
