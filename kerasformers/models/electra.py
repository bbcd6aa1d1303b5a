"""ELECTRA (Clark et al. 2020): a BERT-shaped encoder under ``electra/`` names.

The discriminator head (``with_discriminator``) scores every token as original (0) or
replaced (1): Dense(H, hidden_act) → Dense(1, sigmoid). Generator checkpoints take the
BERT path: ``with_mlm`` builds BERT's MLM head, read from ``generator_predictions/``
(ELECTRA's generator has the same dense → act → LayerNorm → tied embedding + bias head).
"""

import keras

from ..checkpoints.maps import electra as electra_names
from ..layers import get_activation
from .bert import BERT
from .registry import register_model

_HEAD_RENAMES = {
    "cls/predictions/transform/dense": "generator_predictions/dense",
    "cls/predictions/transform/LayerNorm": "generator_predictions/LayerNorm",
    "cls/predictions/output_bias": "generator_predictions/output_bias",
}


@register_model("electra")
class ELECTRA(BERT):
    name_map = electra_names
    vocab_variables = ("electra/embeddings/word_embeddings", "generator_predictions/output_bias")

    def __init__(self, max_position=512, with_discriminator=False, **kwargs):
        super().__init__(max_position=max_position, **kwargs)
        self.with_discriminator = with_discriminator

    def apply_final_layers(self, x):
        outputs = super().apply_final_layers(x)
        if not self.with_discriminator:
            return outputs
        activation = "sigmoid" if self.with_discriminator is True else self.with_discriminator
        d = self.apply(
            x,
            keras.layers.Dense,
            units=self.hidden_size,
            activation=get_activation(self.hidden_act),
            kernel_initializer=self.initializer,
            name="Discriminator-Dense",
        )
        d = self.apply(
            d,
            keras.layers.Dense,
            units=1,
            activation=activation,
            kernel_initializer=self.initializer,
            name="Discriminator-Prediction",
        )
        if not (self.with_pool or self.with_mlm):
            return d
        return (list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]) + [d]

    def variable_mapping(self):
        mapping = {}
        for layer, names in super().variable_mapping().items():
            renamed = []
            for name in names:
                for old, new in _HEAD_RENAMES.items():
                    name = name.replace(old, new)
                renamed.append(name.replace("bert/", "electra/"))
            mapping[layer] = renamed
        mapping["Embedding-Mapping"] = [
            "electra/embeddings_project/kernel",
            "electra/embeddings_project/bias",
        ]
        mapping["Discriminator-Dense"] = [
            "discriminator_predictions/dense/kernel",
            "discriminator_predictions/dense/bias",
        ]
        mapping["Discriminator-Prediction"] = [
            "discriminator_predictions/dense_1/kernel",
            "discriminator_predictions/dense_1/bias",
        ]
        return mapping
