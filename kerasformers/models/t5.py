"""T5 / mT5 (Raffel et al. 2020): encoder-decoder with relative position buckets.

Pre-RMSNorm blocks without biases; attention logits are not scaled; one relative
position table per stack (owned by block 0, shared by every layer). Versions:
  * 't5' / 't5.1.0': ReLU FFN, head tied to the embedding with a d_model**-0.5 rescale;
  * 't5.1.1' / 'mt5.1.1': gated FFN (hidden_act=['gelu_new', 'linear']), untied head.

As in bert4keras, the builder returns an object with `.encoder` (token ids → context),
`.decoder` ([context, decoder ids] → next-token distribution) and `.model`
([encoder ids, decoder ids] → distribution). Cached decoding: `encode` once, then `cached_call`
per step, which runs the decoder's own template steps over the KV caches.
"""

import keras
import numpy as np

from ..checkpoints.maps import t5 as t5_names
from ..layers import (
    CONTEXT,
    CausalBias,
    Embedding,
    LayerNormalization,
    PaddingBias,
    RelativePositionBiasT5,
    Scale,
)
from .incremental import IncrementalPass
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


class T5_Base(Transformer):
    """Shared config, layer helpers and the weight mapping of both stacks."""

    name_map = t5_names
    vocab_variables = ("shared/embedding",)
    use_bias = False
    default_version = "t5.1.0"
    has_decoder = True

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
        cross_position_bias=None,
        scale_decoder_output=None,
        **kwargs,
    ):
        kwargs = dict(kwargs)
        # A HuggingFace config (it names d_model) means T5 as transformers runs it; a Google/bert4keras
        # config means bert4keras's T5, whose decoder adds two pieces of its own (below).
        bert4keras_defaults = "d_model" not in kwargs
        for hf, ours in _HF_KEYS.items():
            if hf in kwargs:
                kwargs[ours] = kwargs.pop(hf)
        num_buckets = kwargs.pop("num_buckets", num_buckets)
        max_distance = kwargs.pop("max_distance", max_distance)
        projection = kwargs.pop("feed_forward_proj", None)
        kwargs.pop("initializer_factor", None)  # HF's init scale: weights come from the checkpoint
        hf_rescale = kwargs.pop("scale_decoder_outputs", None)  # transformers 5: the tied head's rescale
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
        if hf_rescale is not None and bool(hf_rescale) != self.tied_head:
            raise ValueError(
                f"T5 config: scale_decoder_outputs={hf_rescale} with a {'tied' if self.tied_head else 'untied'} "
                "head; kerasformers rescales by d_model**-0.5 exactly when the head is tied"
            )
        # bert4keras 0.11.5's decoder (both off in T5 itself and in transformers): a relative position bias in
        # the cross-attention, and a d_model**-0.5 scale on the decoder output whatever the head.
        self.cross_position_bias = bert4keras_defaults if cross_position_bias is None else cross_position_bias
        self.scale_decoder_output = (
            bert4keras_defaults if scale_decoder_output is None else scale_decoder_output
        )

    def rms_norm(self, x, name):
        return self.apply(
            x, LayerNormalization, name=name, center=False, zero_mean=False, epsilon=self.layer_norm_eps
        )

    def attention(self, inputs, name, arguments=None, **options):
        """T5 does not scale attention logits (the scale is folded into its initialisation)."""
        return super().attention(inputs, name, arguments, attention_scale=False, **options)

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
            return self.extend_with_compound_tokens(value).T
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

    has_decoder = False

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
        x = self.residual(x, h, attention)
        h = self.feed_forward(self.rms_norm(x, f"{ffn}-Norm"), ffn)
        return self.residual(x, h, ffn)

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

    def cached_decoding_problem(self):
        return "T5's decoder alone has no encoder: decode with the combined T5 model (it encodes once)"

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
        x = self.residual(x, h, f"{prefix}MultiHeadSelfAttention")
        h = self.rms_norm(x, f"{prefix}MultiHeadCrossAttention-Norm")
        cross_arguments = {"attention_bias": self.context_bias}
        if self.cross_bias is not None:
            cross_arguments.update(position_bias=self.cross_bias, p_bias="t5_relative")
        h = self.attention([h, context, context], f"{prefix}MultiHeadCrossAttention", cross_arguments)
        x = self.residual(x, h, f"{prefix}MultiHeadCrossAttention")
        h = self.feed_forward(self.rms_norm(x, f"{prefix}FeedForward-Norm"), f"{prefix}FeedForward")
        x = self.residual(x, h, f"{prefix}FeedForward")
        return [context, x]

    def apply_final_layers(self, inputs):
        x = self.dropout(self.rms_norm(inputs[1], "Decoder-Output-Norm"), "Decoder-Output-Dropout")
        if self.scale_decoder_output:
            x = self.apply(x, Scale, name="Decoder-Output-Scale", factor=self.hidden_size**-0.5)
        if not self.with_lm:
            return x
        x = self.lm_logits(x)
        activation = "softmax" if self.with_lm is True else self.with_lm
        return self.apply(x, keras.layers.Activation, activation=activation, name="Decoder-Output-Activation")

    def lm_logits(self, x):
        """Hidden states → vocabulary logits; the tied head rescales by d_model**-0.5 first (unless
        scale_decoder_output already did)."""
        if self.tied_head:
            if not self.scale_decoder_output:
                x = self.apply(x, Scale, name="Decoder-Output-Scale", factor=self.hidden_size**-0.5)
            return self.apply(x, Embedding, arguments={"mode": "dense"}, name="Embedding-Token")
        return self.apply(
            x,
            keras.layers.Dense,
            name="Decoder-Output-LM",
            units=self.vocab_size,
            use_bias=False,
            kernel_initializer=self.initializer,
        )


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
    def cached_decoding_problem(self):
        if not self.built:
            return "build the model first"
        if not self.with_lm:
            return "it was built with with_lm=False: decoding needs the language-model head"
        return None

    def init_caches(self, batch_size, length, dtype="float32"):
        return self._decoder.init_caches(batch_size, length, dtype)

    def encode(self, source_ids):
        """Run the encoder once → the keys/values of its output for every cross-attention (B, 2, S, ·)."""
        context = self.encoder(source_ids)
        return [
            self.layers[
                self.prefixed(f"Decoder-Transformer-{i}-MultiHeadCrossAttention")
            ].project_keys_values(context)
            for i in range(self.num_hidden_layers)
        ]

    def cached_call(
        self, token_ids, position_ids, attention_bias, caches, cache_index, cross_caches, cross_bias
    ):
        """Decoder tokens (B, T) at positions (1, T) → (logits (B, T, V), caches); the decoder's own
        template steps run with `CONTEXT` standing for the encoder output (see `incremental`)."""
        step = IncrementalPass(attention_bias, caches, cache_index, position_ids, cross_caches, cross_bias)
        outputs = self._decoder.run_incremental(step, [CONTEXT, token_ids])
        return step.token_logits(outputs, self.vocab_size), step.new_caches


@register_model("t5", "t5.1.0")
class T5_1_0(T5):
    default_version = "t5.1.0"


@register_model("t5.1.1")
class T5_1_1(T5):
    default_version = "t5.1.1"


@register_model("mt5.1.1", "mt5")
class MT5_1_1(T5):
    default_version = "mt5.1.1"
