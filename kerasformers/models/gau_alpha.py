"""GAU-α (Su Jianlin 2022): RoFormer-v2's skeleton with every attention + FFN pair replaced
by one Gated Attention Unit.

Block: x = RMSNorm(x + GAU(x)), GAU with swish, no biases, RoPE on the shared q/k
projection of size ``attention_key_size`` and the length-aware 'softmax_plus'
normalisation. Embeddings and the tied MLM head are RoFormer-v2's.
"""

from keras import ops

from ..checkpoints.maps import gau_alpha as gau_alpha_names
from ..layers.gau import GatedAttentionUnit
from .registry import register_model
from .roformer import RoFormerV2


@register_model("gau_alpha", "gau-alpha")
class GAU_alpha(RoFormerV2):
    name_map = gau_alpha_names

    def __init__(self, num_attention_heads=1, normalization="softmax_plus", **kwargs):
        # GAU has a single head; the Transformer base still wants the count.
        super().__init__(num_attention_heads=num_attention_heads, **kwargs)
        if kwargs.get("attention_key_size") is None:
            raise ValueError(
                "gau_alpha needs 'attention_key_size' (the shared q/k size, 128 for GAU-α) in its config"
            )
        self.normalization = normalization
        if self.residual_attention_scores:
            raise ValueError(
                "gau_alpha does not support residual_attention_scores=True: a Gated Attention Unit "
                "has no multi-head attention scores to carry over (bert4keras has no GAU-alpha model)"
            )

    def apply_embeddings(self, inputs):
        token_ids = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        self.key_mask = ops.not_equal(token_ids, self.pad_token_id)  # (B, S): n in softmax_plus
        return super().apply_embeddings(inputs)

    def apply_main_layers(self, x, index):
        name = f"Transformer-{index}-GatedAttentionUnit"
        arguments = {
            "attention_bias": self.compute_attention_bias(),
            "key_mask": self.key_mask,
            "position_bias": self.compute_position_bias(x),
        }  # tensors only: remat-friendly
        h = self.apply(
            x,
            GatedAttentionUnit,
            arguments=arguments,
            name=name,
            units=self.intermediate_size,
            key_size=self.attention_key_size,
            activation=self.hidden_act,
            use_bias=False,
            normalization=self.normalization,
            attention_dropout=self.attention_dropout_rate,
            kernel_initializer=self.initializer,
        )
        x = self.residual(x, h, name)
        return self.layer_norm(x, f"{name}-Norm")

    def variable_mapping(self):
        mapping = {
            name: names
            for name, names in super().variable_mapping().items()
            if not name.startswith("Transformer-")
        }
        for i in range(self.num_hidden_layers):
            block = f"GAU_alpha/encoder/layer_{i}/gau/"
            # the order of GatedAttentionUnit.weights: its own q/k gains, then i_dense, o_dense
            mapping[f"Transformer-{i}-GatedAttentionUnit"] = [
                block + "q_scaleoffset/gamma",
                block + "k_scaleoffset/gamma",
                block + "i_dense/kernel",
                block + "o_dense/kernel",
            ]
        return mapping
