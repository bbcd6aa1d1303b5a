"""BERT (Devlin et al. 2018) — also serves RoBERTa-style checkpoints.

Post-LN encoder: x = LN(x + Attn(x)); x = LN(x + FFN(x)).
Inputs: token_ids (B, T) [, segment_ids (B, T)] [, position_ids (B, T)].
Outputs, as bert4keras returns them: the sequence output (B, T, D) when no head is
asked for; otherwise [pooled or NSP probabilities (with_nsp replaces the pooled vector), MLM],
a single tensor when there is one, a list when there are two.
"""

import keras
import numpy as np

from ..checkpoints.maps import bert as bert_names
from ..layers import (
    Add,
    BiasAdd,
    Embedding,
    MultiHeadAttention,
    PositionEmbedding,
    TakeToken,
    get_activation,
)
from .registry import register_model
from .transformer import Transformer


def post_ln_block_mapping(index, block):
    """Layer names of post-LN block ``index`` → Google's TF1 names under ``block`` (BERT, GPT)."""
    attention = f"Transformer-{index}-MultiHeadSelfAttention"
    ffn = f"Transformer-{index}-FeedForward"
    return {
        attention: [
            block + f"attention/{part}/{kind}"
            for part in ("self/query", "self/key", "self/value", "output/dense")
            for kind in ("kernel", "bias")
        ],
        f"{attention}-Norm": [
            block + "attention/output/LayerNorm/gamma",
            block + "attention/output/LayerNorm/beta",
        ],
        ffn: [
            block + "intermediate/dense/kernel",
            block + "intermediate/dense/bias",
            block + "output/dense/kernel",
            block + "output/dense/bias",
        ],
        f"{ffn}-Norm": [block + "output/LayerNorm/gamma", block + "output/LayerNorm/beta"],
    }


@register_model("bert", "roberta")
class BERT(Transformer):
    name_map = bert_names
    vocab_variables = ("bert/embeddings/word_embeddings", "cls/predictions/output_bias")
    tied_copies = (
        ("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
        ("lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight"),
        ("cls.predictions.decoder.weight", "roformer.embeddings.word_embeddings.weight"),
        ("cls.predictions.decoder.weight", "nezha.embeddings.word_embeddings.weight"),
        ("generator_lm_head.weight", "electra.embeddings.word_embeddings.weight"),
    )

    def __init__(
        self,
        max_position,
        segment_vocab_size=2,
        with_pool=False,
        with_nsp=False,
        with_mlm=False,
        custom_position_ids=False,
        shared_segment_embeddings=False,
        hierarchical_position=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_position = max_position
        self.segment_vocab_size = segment_vocab_size
        self.with_pool = with_pool
        self.with_nsp = with_nsp
        self.with_mlm = with_mlm
        self.custom_position_ids = custom_position_ids
        self.shared_segment_embeddings = shared_segment_embeddings
        self.hierarchical_position = (
            hierarchical_position  # positions beyond max_position (see PositionEmbedding)
        )
        if self.with_nsp and not self.with_pool:
            self.with_pool = True

    # ------------------------------------------------------------------ template steps
    def get_inputs(self):
        token_ids = keras.Input(
            shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Token")
        )
        inputs = [token_ids]
        if self.segment_vocab_size > 0:
            inputs.append(
                keras.Input(shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Segment"))
            )
        if self.custom_position_ids:
            inputs.append(
                keras.Input(
                    shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Position")
                )
            )
        return inputs

    def apply_embeddings(self, inputs):
        x, position_ids = self.apply_token_segment_embeddings(inputs)
        x = self.apply_position_embeddings(x, position_ids)
        x = self.layer_norm(x, name="Embedding-Norm")
        x = self.dropout(x, "Embedding-Dropout")
        if self.embedding_size != self.hidden_size:
            x = self.apply(
                x,
                keras.layers.Dense,
                units=self.hidden_size,
                use_bias=self.use_bias,
                kernel_initializer=self.initializer,
                name="Embedding-Mapping",
            )
        return x

    def apply_token_segment_embeddings(self, inputs):
        """Token (+ segment) embeddings; also sets up the attention bias. → (x, position_ids)."""
        inputs = list(inputs)
        token_ids = inputs.pop(0)
        segment_ids = inputs.pop(0) if self.segment_vocab_size > 0 else None
        position_ids = inputs.pop(0) if self.custom_position_ids else None
        self.attention_bias_for([token_ids, segment_ids])
        x = self.apply(
            token_ids,
            Embedding,
            name="Embedding-Token",
            input_dim=self.vocab_size,
            output_dim=self.embedding_size,
            embeddings_initializer=self.initializer,
            mask_id=self.pad_token_id,
        )
        if segment_ids is not None:
            segment_layer = "Embedding-Token" if self.shared_segment_embeddings else "Embedding-Segment"
            s = self.apply(
                segment_ids,
                Embedding,
                name=segment_layer,
                input_dim=self.segment_vocab_size,
                output_dim=self.embedding_size,
                embeddings_initializer=self.initializer,
            )
            x = self.apply([x, s], Add, name="Embedding-Token-Segment")
        return x, position_ids

    def apply_position_embeddings(self, x, position_ids):
        """Learned absolute positions; families with relative/rotary positions return x."""
        return self.apply(
            [x, position_ids] if self.custom_position_ids else x,
            PositionEmbedding,
            name="Embedding-Position",
            input_dim=self.max_position,
            output_dim=self.embedding_size,
            merge_mode="add",
            custom_position_ids=self.custom_position_ids,
            hierarchical=self.hierarchical_position,
            embeddings_initializer=self.initializer,
        )

    # ------------------------------------------------------------------ the block and its hooks
    def block_name(self, index):
        """Layer-name stem of block ``index``; a constant stem shares weights (ALBERT)."""
        return f"Transformer-{index}"

    def attention_layer(self):
        """(layer class, extra constructor kwargs) of the self-attention."""
        return MultiHeadAttention, {}

    def attention_arguments(self, x):
        """Call kwargs of the self-attention (biases, position tables, RealFormer scores)."""
        arguments = {"attention_bias": self.compute_attention_bias()}
        if self.residual_attention_scores:
            arguments.update(previous_scores=self.attention_scores, return_scores=True)
        return arguments

    def apply_main_layers(self, x, index):
        """Post-LN block: x = LN(x + Attn(x)); x = LN(x + FFN(x))."""
        attention_name = f"{self.block_name(index)}-MultiHeadSelfAttention"
        ffn_name = f"{self.block_name(index)}-FeedForward"
        attention_class, attention_kwargs = self.attention_layer()
        h = self.attention(
            [x, x, x],
            attention_name,
            self.attention_arguments(x),
            layer=attention_class,
            **attention_kwargs,
        )
        if self.residual_attention_scores:
            h, self.attention_scores = h
        x = self.layer_norm(self.residual(x, h, attention_name), name=f"{attention_name}-Norm")
        h = self.feed_forward(x, ffn_name)
        return self.layer_norm(self.residual(x, h, ffn_name), name=f"{ffn_name}-Norm")

    def apply_final_layers(self, x):
        outputs = [x]
        if self.with_pool:
            pool_activation = "tanh" if self.with_pool is True else self.with_pool
            pooled = self.apply(x, TakeToken, name="Pooler", index=0)
            pooled = self.apply(
                pooled,
                keras.layers.Dense,
                units=self.hidden_size,
                activation=pool_activation,
                kernel_initializer=self.initializer,
                name="Pooler-Dense",
            )
            if self.with_nsp:  # as in bert4keras, the NSP probabilities replace the pooled vector
                pooled = self.apply(
                    pooled,
                    keras.layers.Dense,
                    units=2,
                    activation="softmax",
                    kernel_initializer=self.initializer,
                    name="NSP-Proba",
                )
            outputs.append(pooled)
        if self.with_mlm:
            mlm_activation = "softmax" if self.with_mlm is True else self.with_mlm
            h = self.apply(
                x,
                keras.layers.Dense,
                units=self.embedding_size,
                activation=get_activation(self.hidden_act),
                kernel_initializer=self.initializer,
                name="MLM-Dense",
            )
            h = self.layer_norm(h, name="MLM-Norm")
            h = self.apply(h, Embedding, arguments={"mode": "dense"}, name="Embedding-Token")
            h = self.apply(h, BiasAdd, name="MLM-Bias")
            h = self.apply(h, keras.layers.Activation, activation=mlm_activation, name="MLM-Activation")
            outputs.append(h)
        if len(outputs) == 1:
            return outputs[0]
        if len(outputs) == 2:
            return outputs[1]
        return outputs[1:]

    # ------------------------------------------------------------------ weights
    def load_variable(self, reader, name):
        value = super().load_variable(reader, name)
        if name == "cls/seq_relationship/output_weights":
            return value.T  # stored (2, hidden); our Dense kernel is (hidden, 2)
        segment_table = "bert/embeddings/token_type_embeddings"
        if (
            name == "bert/embeddings/position_embeddings"
            and self.segment_vocab_size == 0
            and segment_table in reader
        ):
            # Without a segment input every token has segment 0; since segment and position
            # vectors are both added before the LayerNorm, folding row 0 in is exact.
            value = value + np.asarray(reader[segment_table])[0]
        return value

    def create_variable(self, name, value):
        if name == "cls/seq_relationship/output_weights":
            return value.T
        return value

    def variable_mapping(self):
        mapping = {
            "Embedding-Token": ["bert/embeddings/word_embeddings"],
            "Embedding-Segment": ["bert/embeddings/token_type_embeddings"],
            "Embedding-Position": ["bert/embeddings/position_embeddings"],
            "Embedding-Norm": ["bert/embeddings/LayerNorm/gamma", "bert/embeddings/LayerNorm/beta"],
            "Embedding-Mapping": [
                "bert/encoder/embedding_hidden_mapping_in/kernel",
                "bert/encoder/embedding_hidden_mapping_in/bias",
            ],
            "Pooler-Dense": ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"],
            "NSP-Proba": ["cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias"],
            "MLM-Dense": ["cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias"],
            "MLM-Norm": [
                "cls/predictions/transform/LayerNorm/gamma",
                "cls/predictions/transform/LayerNorm/beta",
            ],
            "MLM-Bias": ["cls/predictions/output_bias"],
        }
        for i in range(self.num_hidden_layers):
            block = f"bert/encoder/layer_{i}/"
            mapping.update(post_ln_block_mapping(i, block))
        return mapping
