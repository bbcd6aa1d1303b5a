"""T5 / mT5 (Raffel et al. 2020): encoder-decoder with relative position buckets.

Pre-RMSNorm blocks without biases; attention logits are not scaled; one relative
position table per stack (owned by block 0, shared by every layer). Versions:
  * 't5' / 't5.1.0': ReLU FFN, head tied to the embedding with a d_model**-0.5 rescale;
  * 't5.1.1' / 'mt5.1.1': gated FFN (hidden_act=['gelu_new', 'linear']), untied head.

As in bert4keras, the builder returns an object with `.encoder` (token ids → context),
`.decoder` ([context, decoder ids] → next-token distribution) and `.model`
([encoder ids, decoder ids] → distribution). `.seq2seq_decoder()` is the cached path.
"""

import math

import keras
import numpy as np
from keras import ops

from ..checkpoints.maps import t5 as t5_names
from ..layers import (
    CausalBias,
    Embedding,
    FeedForward,
    LayerNormalization,
    MultiHeadAttention,
    PaddingBias,
    Scale,
)
from .keras_model import TransformerModel
from .registry import register_model
from .transformer import Transformer

_HF_KEYS = {
    "d_model": "hidden_size",
    "d_ff": "intermediate_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "d_kv": "attention_head_size",
    "relative_attention_num_buckets": "num_buckets",
    "relative_attention_max_distance": "max_distance",
}
_HF_ACTIVATIONS = {
    "relu": "relu",
    "gated-gelu": ["gelu_new", "linear"],
    "gelu": "gelu_new",
    "gated-silu": ["silu", "linear"],
}


def relative_position_buckets(relative_position, bidirectional, num_buckets, max_distance):
    """T5's bucketing of key − query offsets (int tensor) into `num_buckets` ids.

    Small offsets get their own bucket, larger ones share log-spaced buckets up to
    `max_distance`; bidirectional tables use half the buckets for each direction.
    """
    n = -relative_position
    buckets = 0
    if bidirectional:
        num_buckets //= 2
        buckets = ops.cast(n < 0, "int32") * num_buckets
        n = ops.abs(n)
    else:
        n = ops.maximum(n, 0)
    max_exact = num_buckets // 2
    scaled = ops.log(ops.cast(ops.maximum(n, 1), "float32") / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + ops.cast(scaled * (num_buckets - max_exact), "int32")
    large = ops.minimum(large, num_buckets - 1)
    return buckets + ops.where(n < max_exact, n, large)


@keras.saving.register_keras_serializable(package="kerasformers")
class RelativePositionBiasT5(keras.layers.Layer):
    """[queries (B, T, ·), keys (B, S, ·)] → additive attention bias (1, heads, T, S)."""

    def __init__(
        self,
        heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        embeddings_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.heads = heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_buckets, self.heads), initializer=self.embeddings_initializer
        )

    def bias(self, query_positions, key_positions):
        """(T,), (S,) int positions → (1, heads, T, S)."""
        relative = key_positions[None, :] - query_positions[:, None]  # (T, S)
        buckets = relative_position_buckets(relative, self.bidirectional, self.num_buckets, self.max_distance)
        values = ops.take(self.embeddings, buckets, axis=0)  # (T, S, heads)
        return ops.transpose(values, (2, 0, 1))[None]

    def call(self, inputs):
        queries, keys = inputs
        return self.bias(ops.arange(ops.shape(queries)[1]), ops.arange(ops.shape(keys)[1]))

    def compute_output_shape(self, input_shape):
        return (1, self.heads, input_shape[0][1], input_shape[1][1])

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "num_buckets": self.num_buckets,
            "max_distance": self.max_distance,
            "bidirectional": self.bidirectional,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }


class T5_Base(Transformer):
    """Shared config, layer helpers and the weight mapping of both stacks."""

    name_map = t5_names
    vocab_variables = ("shared/embedding",)
    default_version = "t5.1.0"

    def hf_tied_copies(self):
        """One token embedding serves encoder, decoder and (t5.1.0-style tied head) the output layer."""
        copies = [
            ("encoder.embed_tokens.weight", "shared.weight"),
            ("decoder.embed_tokens.weight", "shared.weight"),
        ]
        return copies + ([("lm_head.weight", "shared.weight")] if self.tied_head else [])

    def __init__(
        self,
        version=None,
        num_buckets=32,
        max_distance=128,
        with_lm=True,
        tie_word_embeddings=None,
        cross_position_bias=False,
        scale_decoder_output=False,
        **kwargs,
    ):
        kwargs = dict(kwargs)
        for hf, ours in _HF_KEYS.items():
            if hf in kwargs:
                kwargs[ours] = kwargs.pop(hf)
        num_buckets = kwargs.pop("num_buckets", num_buckets)
        max_distance = kwargs.pop("max_distance", max_distance)
        projection = kwargs.pop("feed_forward_proj", None)
        if projection is not None and "hidden_act" not in kwargs:
            kwargs["hidden_act"] = _HF_ACTIVATIONS.get(projection, projection)
        kwargs.pop("max_position", None)  # relative positions: no table
        kwargs.setdefault("layer_norm_eps", 1e-6)
        if kwargs.get("dropout_rate") is None:
            kwargs["dropout_rate"] = 0.0
        super().__init__(**kwargs)
        self.version = version or self.default_version
        if self.version not in ("t5.1.0", "t5.1.1", "mt5.1.1"):
            raise ValueError(f"T5 version must be 't5.1.0', 't5.1.1' or 'mt5.1.1', got {self.version!r}")
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.with_lm = with_lm
        # HF's tie_word_embeddings, when the config has it, decides the head (and its d_model**-0.5 rescale).
        self.tied_head = (
            self.version == "t5.1.0" if tie_word_embeddings is None else bool(tie_word_embeddings)
        )
        # bert4keras compatibility (both off in T5 itself and in transformers): a relative position bias in
        # the decoder's cross-attention, and a d_model**-0.5 scale on the decoder output whatever the head.
        self.cross_position_bias = cross_position_bias
        self.scale_decoder_output = scale_decoder_output

    def rms_norm(self, x, name):
        return self.apply(
            x, LayerNormalization, name=name, center=False, zero_mean=False, epsilon=self.layer_norm_eps
        )

    def attention(self, inputs, name, arguments):
        return self.apply(
            inputs,
            MultiHeadAttention,
            arguments=arguments,
            name=name,
            heads=self.num_attention_heads,
            head_size=self.attention_head_size,
            out_dim=self.hidden_size,
            key_size=self.attention_key_size,
            use_bias=False,
            attention_scale=False,
            attention_dropout=self.attention_dropout_rate,
            kernel_initializer=self.initializer,
        )

    def feed_forward(self, x, name):
        return self.apply(
            x,
            FeedForward,
            name=name,
            units=self.intermediate_size,
            activation=self.hidden_act,
            use_bias=False,
            kernel_initializer=self.initializer,
        )

    def dropout(self, x, name):
        return self.apply(x, keras.layers.Dropout, rate=self.dropout_rate, name=name)

    def embed_tokens(self, token_ids):
        return self.apply(
            token_ids,
            Embedding,
            name="Embedding-Token",
            input_dim=self.vocab_size,
            output_dim=self.embedding_size,
            embeddings_initializer=self.initializer,
        )

    def relative_positions(self, inputs, name, bidirectional):
        return self.apply(
            inputs,
            RelativePositionBiasT5,
            name=name,
            heads=self.num_attention_heads,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
            bidirectional=bidirectional,
            embeddings_initializer=self.initializer,
        )

    # ------------------------------------------------------------------ weights
    def load_variable(self, reader, name):
        if name == "decoder/logits/kernel":  # vocab on the last axis
            value = np.asarray(reader[name]).T
            if self.keep_tokens is not None:
                value = value[self.keep_tokens]
            if self.compound_tokens is not None:
                extra = [np.mean(value[list(ids)], axis=0) for ids in self.compound_tokens]
                value = np.concatenate([value, np.stack(extra).astype(value.dtype)], axis=0)
            return value.T
        value = super().load_variable(reader, name)
        return value.T if "relative_attention_bias" in name else value

    def create_variable(self, name, value):
        return value.T if "relative_attention_bias" in name else value

    def variable_mapping(self):
        gated = self.version != "t5.1.0"
        norm = "rms_norm" if self.version == "mt5.1.1" else "layer_norm"
        final = "rms_norm" if self.version == "mt5.1.1" else "final_layer_norm"
        wi = ["wi_0", "wi_1"] if gated else ["wi"]
        mapping = {"Embedding-Token": ["shared/embedding"]}
        for side, stack in (("Encoder", "encoder"), ("Decoder", "decoder")):
            mapping[f"{side}-Embedding-Relative-Position"] = [
                f"{stack}/block_000/layer_000/SelfAttention/relative_attention_bias"
            ]
            mapping[f"{side}-Output-Norm"] = [f"{stack}/{final}/scale"]
            for i in range(self.num_hidden_layers):
                block = f"{stack}/block_{i:03d}/"
                parts = [("MultiHeadSelfAttention", "layer_000/SelfAttention")]
                if side == "Decoder":
                    parts.append(("MultiHeadCrossAttention", "layer_001/EncDecAttention"))
                for ours, theirs in parts:
                    name = f"{side}-Transformer-{i}-{ours}"
                    mapping[name] = [f"{block}{theirs}/{w}" for w in "qkvo"]
                    mapping[f"{name}-Norm"] = [f"{block}{theirs.split('/')[0]}/{norm}/scale"]
                ffn = "layer_002" if side == "Decoder" else "layer_001"
                name = f"{side}-Transformer-{i}-FeedForward"
                mapping[name] = [f"{block}{ffn}/DenseReluDense/{w}/kernel" for w in wi + ["wo"]]
                mapping[f"{name}-Norm"] = [f"{block}{ffn}/{norm}/scale"]
        if not self.tied_head:
            mapping["Decoder-Output-LM"] = ["decoder/logits/kernel"]
        return mapping


@register_model("t5_encoder", "t5.1.0_encoder", "t5.1.1_encoder", "mt5.1.1_encoder")
class T5_Encoder(T5_Base):
    """token ids (B, S) → context (B, S, hidden)."""

    def get_inputs(self):
        return keras.Input(
            shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Encoder-Input-Token")
        )

    def apply_embeddings(self, token_ids):
        self.attention_bias = self.apply(token_ids, PaddingBias, name="Attention-Padding-Bias", pad_id=0)
        x = self.embed_tokens(token_ids)
        self.position_bias = self.relative_positions([x, x], "Encoder-Embedding-Relative-Position", True)
        return self.dropout(x, "Encoder-Embedding-Dropout")

    def apply_main_layers(self, x, index):
        attention = f"Encoder-Transformer-{index}-MultiHeadSelfAttention"
        ffn = f"Encoder-Transformer-{index}-FeedForward"
        h = self.rms_norm(x, f"{attention}-Norm")
        arguments = {
            "attention_bias": self.attention_bias,
            "position_bias": self.position_bias,
            "p_bias": "t5_relative",
        }
        if self.residual_attention_scores:  # RealFormer, as in BERT
            arguments.update(previous_scores=self.attention_scores, return_scores=True)
        h = self.attention([h, h, h], attention, arguments)
        if self.residual_attention_scores:
            h, self.attention_scores = h
        x = self.apply(
            [x, self.dropout(h, f"{attention}-Dropout")], keras.layers.Add, name=f"{attention}-Add"
        )
        h = self.feed_forward(self.rms_norm(x, f"{ffn}-Norm"), ffn)
        return self.apply([x, self.dropout(h, f"{ffn}-Dropout")], keras.layers.Add, name=f"{ffn}-Add")

    def apply_final_layers(self, x):
        return self.dropout(self.rms_norm(x, "Encoder-Output-Norm"), "Encoder-Output-Dropout")


@register_model("t5_decoder", "t5.1.0_decoder", "t5.1.1_decoder", "mt5.1.1_decoder")
class T5_Decoder(T5_Base):
    """[context (B, S, hidden), decoder ids (B, T)] → next-token distribution (B, T, vocab).

    `context_bias` (B, 1, 1, S) hides padded context positions; the combined `T5.model`
    sets it from the encoder ids. A standalone decoder model has no padding information
    (as in bert4keras), so feed it unpadded contexts.
    """

    context_bias = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.residual_attention_scores:
            raise ValueError(
                "residual_attention_scores=True is supported by the T5 encoder only: the decoder "
                "mixes self- and cross-attention, whose scores have different shapes"
            )

    def get_inputs(self):
        context = keras.Input(
            shape=(self.sequence_length, self.hidden_size), name=self.prefixed("Input-Context")
        )
        token_ids = keras.Input(shape=(None,), dtype="int32", name=self.prefixed("Decoder-Input-Token"))
        return [context, token_ids]

    def apply_embeddings(self, inputs):
        context, token_ids = inputs
        x = self.embed_tokens(token_ids)
        self.attention_bias = self.apply(token_ids, CausalBias, name="Decoder-Attention-LM-Bias")
        self.position_bias = self.relative_positions([x, x], "Decoder-Embedding-Relative-Position", False)
        self.cross_bias = None
        if self.cross_position_bias:  # the decoder's table again, over (decoder, context) positions
            self.cross_bias = self.relative_positions(
                [x, context], "Decoder-Embedding-Relative-Position", False
            )
        return [context, self.dropout(x, "Decoder-Embedding-Dropout")]

    def apply_main_layers(self, inputs, index):
        context, x = inputs
        prefix = f"Decoder-Transformer-{index}-"
        h = self.rms_norm(x, f"{prefix}MultiHeadSelfAttention-Norm")
        h = self.attention(
            [h, h, h],
            f"{prefix}MultiHeadSelfAttention",
            {
                "attention_bias": self.attention_bias,
                "position_bias": self.position_bias,
                "p_bias": "t5_relative",
            },
        )
        x = self.apply(
            [x, self.dropout(h, f"{prefix}MultiHeadSelfAttention-Dropout")],
            keras.layers.Add,
            name=f"{prefix}MultiHeadSelfAttention-Add",
        )
        h = self.rms_norm(x, f"{prefix}MultiHeadCrossAttention-Norm")
        cross_arguments = {"attention_bias": self.context_bias}
        if self.cross_bias is not None:
            cross_arguments.update(position_bias=self.cross_bias, p_bias="t5_relative")
        h = self.attention([h, context, context], f"{prefix}MultiHeadCrossAttention", cross_arguments)
        x = self.apply(
            [x, self.dropout(h, f"{prefix}MultiHeadCrossAttention-Dropout")],
            keras.layers.Add,
            name=f"{prefix}MultiHeadCrossAttention-Add",
        )
        h = self.feed_forward(self.rms_norm(x, f"{prefix}FeedForward-Norm"), f"{prefix}FeedForward")
        x = self.apply(
            [x, self.dropout(h, f"{prefix}FeedForward-Dropout")],
            keras.layers.Add,
            name=f"{prefix}FeedForward-Add",
        )
        return [context, x]

    def apply_final_layers(self, inputs):
        x = self.dropout(self.rms_norm(inputs[1], "Decoder-Output-Norm"), "Decoder-Output-Dropout")
        if self.scale_decoder_output:
            x = self.apply(x, Scale, name="Decoder-Output-Scale", factor=self.hidden_size**-0.5)
        if not self.with_lm:
            return x
        x = self.lm_logits(x, graph=True)
        activation = "softmax" if self.with_lm is True else self.with_lm
        return self.apply(x, keras.layers.Activation, activation=activation, name="Decoder-Output-Activation")

    def lm_logits(self, x, graph=False):
        """Hidden states → vocabulary logits (tied head rescales by d_model**-0.5, unless the graph already
        did with scale_decoder_output)."""
        if not graph and self.scale_decoder_output:
            x = x * self.hidden_size**-0.5
        if self.tied_head:
            if graph:
                if not self.scale_decoder_output:
                    x = self.apply(x, Scale, name="Decoder-Output-Scale", factor=self.hidden_size**-0.5)
                return self.apply(x, Embedding, arguments={"mode": "dense"}, name="Embedding-Token")
            if not self.scale_decoder_output:
                x = x * self.hidden_size**-0.5
            return self.layers[self.prefixed("Embedding-Token")](x, mode="dense")
        if graph:
            return self.apply(
                x,
                keras.layers.Dense,
                name="Decoder-Output-LM",
                units=self.vocab_size,
                use_bias=False,
                kernel_initializer=self.initializer,
            )
        return self.layers[self.prefixed("Decoder-Output-LM")](x)


class T5(T5_Base):
    """Encoder + decoder sharing one layer table (hence one token embedding)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        name = kwargs.pop("name", None)
        common = {
            **kwargs,
            "version": self.version,
            "tie_word_embeddings": self.tied_head,
            "cross_position_bias": self.cross_position_bias,
            "scale_decoder_output": self.scale_decoder_output,
        }
        self._encoder = T5_Encoder(name=f"{name}_Encoder" if name else "Encoder", **common)
        self._decoder = T5_Decoder(name=f"{name}_Decoder" if name else "Decoder", **common)
        self._encoder.layers = self._decoder.layers = self.layers

    def build(self, **kwargs):
        if self.built:
            return self.model
        self.encoder = self._encoder.build()
        self.decoder = self._decoder.build()
        encoder_ids = self.encoder.inputs[0]
        decoder_ids = self.decoder.inputs[1]
        self._decoder.context_bias = self.layers[self.prefixed("Attention-Padding-Bias")](encoder_ids)
        self._decoder.attention_bias = self._decoder.position_bias = None
        outputs = self._decoder.call([self.encoder.outputs[0], decoder_ids])
        self._decoder.context_bias = None
        self.inputs, self.outputs = [encoder_ids, decoder_ids], outputs
        self.model = TransformerModel(self.inputs, outputs, name=self.name)
        self.model.transformer = self
        self.built = True
        return self.model

    # ------------------------------------------------------------------ cached decoding
    def layer(self, name):
        return self.layers[self.prefixed(name)]

    def cross_caches(self, context):
        """Keys/values of the context for every cross-attention layer: (B, 2, S, N, H) each."""
        caches = []
        for i in range(self.num_hidden_layers):
            attention = self.layer(f"Decoder-Transformer-{i}-MultiHeadCrossAttention")
            shape = (ops.shape(context)[0], ops.shape(context)[1], self.num_attention_heads, -1)
            k = ops.reshape(attention.k_dense(context), shape)
            v = ops.reshape(attention.v_dense(context), shape)
            caches.append(ops.stack([k, v], axis=1))
        return caches

    def cached_decoder_call(self, token_ids, cache_index, self_bias, caches, cross_caches, cross_bias):
        """Decoder tokens (B, T) starting at position `cache_index` → (logits (B, T, V), caches)."""
        x = self.layer("Embedding-Token")(token_ids)
        length = caches[0].shape[2]
        positions = cache_index + ops.arange(ops.shape(token_ids)[1])
        table = self.layer("Decoder-Embedding-Relative-Position")
        position_bias = table.bias(positions, ops.arange(length))
        cross_position = None
        if self.cross_position_bias:  # (1, heads, T, S), added to the context padding bias
            cross_position = table.bias(positions, ops.arange(cross_caches[0].shape[2]))
        new_caches = []
        for i in range(self.num_hidden_layers):
            prefix = f"Decoder-Transformer-{i}-"
            h = self.layer(f"{prefix}MultiHeadSelfAttention-Norm")(x)
            h, cache = self.layer(f"{prefix}MultiHeadSelfAttention")(
                [h, h, h],
                attention_bias=self_bias,
                position_bias=position_bias,
                p_bias="t5_relative",
                cache=caches[i],
                cache_index=cache_index,
            )
            x = x + h
            h = self.layer(f"{prefix}MultiHeadCrossAttention-Norm")(x)
            x = x + self.layer(f"{prefix}MultiHeadCrossAttention")(
                [h, h, h],
                attention_bias=cross_bias,
                cache=cross_caches[i],
                position_bias=cross_position,
                p_bias="t5_relative" if cross_position is not None else None,
            )
            h = self.layer(f"{prefix}FeedForward-Norm")(x)
            x = x + self.layer(f"{prefix}FeedForward")(h)
            new_caches.append(cache)
        x = self.layer("Decoder-Output-Norm")(x)
        return self._decoder.lm_logits(x), new_caches

    def seq2seq_decoder(self, decoder_start_id=0):
        from ..generation.decoders import Seq2SeqDecoder

        return Seq2SeqDecoder(self, decoder_start_id)


@register_model("t5", "t5.1.0")
class T5_1_0(T5):
    default_version = "t5.1.0"


@register_model("t5.1.1")
class T5_1_1(T5):
    default_version = "t5.1.1"


@register_model("mt5.1.1", "mt5")
class MT5_1_1(T5):
    default_version = "mt5.1.1"
