"""The `Transformer` template every model family subclasses.

Building is a fixed recipe with overridable steps:

    inputs  = get_inputs()
    x       = apply_embeddings(inputs)
    x       = apply_main_layers(x, i)        for i in range(num_hidden_layers)
    outputs = apply_final_layers(x)

Layers are created through `apply(...)`, which keeps one layer per name, so a family
that shares layers (ALBERT) simply reuses a name. Weights are described once, in the
family's original TF1 variable names (`variable_mapping`); HuggingFace checkpoints are
translated into those names by the family's name map before loading.
"""

import contextlib
import logging

import keras
import numpy as np
from keras import ops

from ..checkpoints import CheckpointError, open_checkpoint, write_tf1_checkpoint
from ..layers import (
    CausalBias,
    FeedForward,
    LayerNormalization,
    MultiHeadAttention,
    PaddingBias,
    SumBiases,
    UniLMBias,
)
from .incremental import IncrementalPass, unsupported_layers
from .keras_model import TransformerModel
from .weight_order import mapped_variables

#: Attributes the template steps set while building; a cached pass restores them afterwards.
_TEMPLATE_STATE = ("attention_bias", "position_bias", "attention_scores", "cross_bias")

logger = logging.getLogger(__name__)


class Transformer:
    """Base class: holds the config, the named layers and the weight-loading logic.

    ``name_map`` (a module with ``hf_to_tf1``/``tf1_to_hf``) translates HuggingFace
    variable names; families without a HuggingFace layout leave it ``None``.
    """

    name_map = None
    #: TF1 variables whose first axis is the vocabulary (sliced by keep_tokens, extended by compound_tokens).
    vocab_variables = ()

    def __init__(
        self,
        vocab_size,
        hidden_size,
        num_hidden_layers,
        num_attention_heads,
        intermediate_size,
        hidden_act="gelu",
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        embedding_size=None,
        attention_head_size=None,
        attention_key_size=None,
        sequence_length=None,
        keep_tokens=None,
        compound_tokens=None,
        residual_attention_scores=False,
        ignore_invalid_weights=False,
        layer_norm_cond=None,
        layer_norm_cond_hidden_size=None,
        layer_norm_cond_hidden_act=None,
        additional_input_layers=None,
        pad_token_id=0,
        layer_norm_eps=1e-12,
        hf_position_offset=None,
        prefix=None,
        name=None,
        **kwargs,
    ):
        if keep_tokens is not None:
            vocab_size = len(keep_tokens)
        if compound_tokens is not None:
            vocab_size += len(compound_tokens)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.attention_head_size = attention_head_size or hidden_size // num_attention_heads
        self.attention_key_size = attention_key_size or self.attention_head_size
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout_rate = dropout_rate or 0.0
        self.attention_dropout_rate = attention_dropout_rate or 0.0
        self.embedding_size = embedding_size or hidden_size
        self.sequence_length = sequence_length
        self.keep_tokens = None if keep_tokens is None else np.asarray(keep_tokens, dtype="int64")
        self.compound_tokens = compound_tokens
        self.residual_attention_scores = residual_attention_scores
        self.ignore_invalid_weights = ignore_invalid_weights
        self.layer_norm_conds = [
            layer_norm_cond,
            layer_norm_cond_hidden_size,
            layer_norm_cond_hidden_act or "linear",
        ]
        self.additional_input_layers = additional_input_layers
        self.pad_token_id = pad_token_id
        self.layer_norm_eps = layer_norm_eps
        self.hf_position_offset = hf_position_offset  # RoBERTa-style HF position tables start late
        self.prefix = prefix or ""
        self.name = name
        self.extra_config = kwargs
        self.attention_bias = None
        self._attention_bias_inputs = None  # the token ids attention_bias was computed from
        self.position_bias = None
        self.attention_scores = None
        self.layers = {}
        self.built = False
        self.incremental_pass = None  # set only while `cached_call` runs the template

    # ------------------------------------------------------------------ template
    def build(self, **kwargs):
        """Create the Keras model once; ``self.model`` afterwards."""
        if self.built:
            return self.model
        inputs = self.get_inputs()
        model_inputs = inputs if isinstance(inputs, list) else [inputs]
        if self.additional_input_layers is not None:
            extra = self.additional_input_layers
            model_inputs = model_inputs + (list(extra) if isinstance(extra, (list, tuple)) else [extra])
        outputs = self.call(inputs)
        self.inputs, self.outputs = model_inputs, outputs
        self.model = TransformerModel(
            model_inputs if len(model_inputs) > 1 else model_inputs[0], outputs, name=self.name
        )
        self.model.transformer = self
        self.built = True
        return self.model

    def call(self, inputs):
        x = self.apply_embeddings(inputs)
        # remat=True: the main layers recompute their activations in the backward pass
        # (gradient checkpointing) instead of keeping them, trading compute for memory.
        remat = self.extra_config.get("remat") and self.incremental_pass is None
        with keras.RematScope(mode="full") if remat else contextlib.nullcontext():
            for index in range(self.num_hidden_layers):
                x = self.apply_main_layers(x, index)
        return self.apply_final_layers(x)

    def get_inputs(self):
        raise NotImplementedError

    def apply_embeddings(self, inputs):
        raise NotImplementedError

    def apply_main_layers(self, inputs, index):
        raise NotImplementedError

    def apply_final_layers(self, inputs):
        raise NotImplementedError

    def variable_mapping(self):
        """``{keras_layer_name: [TF1 variable names]}``, in the layer's checkpoint order (`weight_order`)."""
        return {}

    # ------------------------------------------------------------------ helpers for subclasses
    def prefixed(self, name):
        return self.prefix + name

    def apply(self, inputs=None, layer=None, arguments=None, **kwargs):
        """Create (first call) or reuse (later calls) the layer called ``name``, then call it.

        Dropout with rate 0 is skipped entirely so inference graphs stay lean.
        """
        if layer is keras.layers.Dropout and not kwargs.get("rate"):
            return inputs
        name = self.prefixed(kwargs.pop("name"))
        if self.incremental_pass is not None:
            if name not in self.layers:
                raise ValueError(
                    f"cached decoding reached layer {name!r}, which the built model does not have"
                )
            return self.incremental_pass.call(name, self.layers[name], inputs, arguments or {})
        if name not in self.layers:
            kwargs["name"] = name
            self.layers[name] = layer(**kwargs)
        if inputs is None:
            return self.layers[name]
        return self.layers[name](inputs, **(arguments or {}))

    def layer_norm(self, x, name, **kwargs):
        """LayerNorm that becomes conditional when the model was given ``layer_norm_cond``."""
        cond, hidden_units, hidden_act = self.layer_norm_conds
        kwargs.setdefault("epsilon", self.layer_norm_eps)
        if cond is None:
            return self.apply(x, LayerNormalization, name=name, **kwargs)
        return self.apply(
            [x, cond],
            LayerNormalization,
            name=name,
            conditional=True,
            hidden_units=hidden_units,
            hidden_activation=hidden_act,
            hidden_initializer=self.initializer,
            **kwargs,
        )

    # One vocabulary of block pieces, shared by every family (each creates or reuses a named layer).
    #: Whether dense projections (attention, feed-forward) carry biases; T5 and RoFormer-v2 say no.
    use_bias = True

    def attention(self, inputs, name, arguments=None, layer=MultiHeadAttention, **options):
        """Multi-head attention over ``[q, k, v]`` with the family's sizes; ``options`` override them."""
        config = dict(
            heads=self.num_attention_heads,
            head_size=self.attention_head_size,
            out_dim=self.hidden_size,
            key_size=self.attention_key_size,
            use_bias=self.use_bias,
            attention_dropout=self.attention_dropout_rate,
            kernel_initializer=self.initializer,
        )
        return self.apply(inputs, layer, arguments=arguments, name=name, **{**config, **options})

    def feed_forward(self, x, name):
        return self.apply(
            x,
            FeedForward,
            name=name,
            units=self.intermediate_size,
            activation=self.hidden_act,
            use_bias=self.use_bias,
            kernel_initializer=self.initializer,
        )

    def dropout(self, x, name):
        return self.apply(x, keras.layers.Dropout, rate=self.dropout_rate, name=name)

    def residual(self, x, h, name):
        """x + Dropout(h), as layers ``{name}-Dropout`` and ``{name}-Add``."""
        return self.apply([x, self.dropout(h, f"{name}-Dropout")], keras.layers.Add, name=f"{name}-Add")

    @property
    def initializer(self):
        return keras.initializers.TruncatedNormal(stddev=0.02)

    def compute_attention_bias(self, inputs=None):
        """Padding bias (B, 1, 1, S) from the token ids; application mixins add theirs."""
        if self.attention_bias is None:
            token_ids = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            self.attention_bias = self.apply(
                token_ids, PaddingBias, name="Attention-Padding-Bias", pad_id=self.pad_token_id
            )
        return self.attention_bias

    def attention_bias_for(self, inputs):
        """``compute_attention_bias(inputs)``, computed again when ``apply_embeddings`` runs on other
        input tensors than last time (bert4keras's BERT-of-Theseus example feeds a second model's
        embeddings and blocks the first model's inputs; bidirectional title decoding runs two models in
        one graph): a cached bias or position table would belong to the old ones."""
        token_ids = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if self._attention_bias_inputs is not None and self._attention_bias_inputs is not token_ids:
            self.attention_bias = self.position_bias = None  # both were computed from the old inputs
        self._attention_bias_inputs = token_ids
        return self.compute_attention_bias(inputs)

    def compute_position_bias(self, inputs=None):
        return self.position_bias

    # ------------------------------------------------------------------ cached decoding
    #: Which keys a query may attend to: 'bidirectional' (encoders), 'causal' (language models),
    #: 'unilm' (source visible, target causal) or 'custom' (a mask given as an input).
    attention_pattern = "bidirectional"

    def cached_decoding_problem(self):
        """Why this model cannot decode with a KV cache (a sentence), or None when it can."""
        if not self.built:
            return "build the model first"
        if self.attention_pattern not in ("causal", "unilm"):
            return (
                f"its attention is {self.attention_pattern}: build it with application='lm' or 'unilm' "
                "(or use a GPT-style family)"
            )
        if not any(len(t.shape) == 3 and t.shape[-1] == self.vocab_size for t in self.outputs_list()):
            return "it has no (batch, length, vocab) output: build it with its language-model head (with_mlm)"
        if self.residual_attention_scores:
            return "residual_attention_scores=True is not supported by cached decoding"
        if self.layer_norm_conds[0] is not None:
            return "conditional LayerNorm (layer_norm_cond) takes an extra input that decoding cannot feed"
        unsupported = unsupported_layers(self.layers)
        if unsupported:
            return "these layers have no cached-decoding path: " + ", ".join(unsupported)
        if self.attention_key_size != self.attention_head_size:
            return "the KV cache needs attention_key_size == attention_head_size"
        return None

    def outputs_list(self):
        return self.outputs if isinstance(self.outputs, (list, tuple)) else [self.outputs]

    @property
    def input(self):
        """bert4keras's ``input``: the input tensor when there is one, else the list (after building)."""
        return self.inputs[0] if len(self.inputs) == 1 else self.inputs

    @property
    def output(self):
        """bert4keras's ``output``: the output tensor when there is one, else the list (after building)."""
        outputs = self.outputs_list()
        return outputs[0] if len(outputs) == 1 else outputs

    def init_caches(self, batch_size, length, dtype="float32"):
        """One zero KV cache (B, 2, heads, L, head_size) per self-attention layer."""
        shape = (batch_size, 2, self.num_attention_heads, length, self.attention_head_size)
        return [ops.zeros(shape, dtype=dtype) for _ in range(self.num_hidden_layers)]

    def incremental_inputs(self, token_ids, segment_ids, position_ids):
        """The template's inputs for a cached pass, in `get_inputs` order."""
        inputs = [token_ids]
        if getattr(self, "segment_vocab_size", 0) > 0:
            inputs.append(ops.zeros_like(token_ids) if segment_ids is None else segment_ids)
        if getattr(self, "custom_position_ids", False):
            inputs.append(position_ids)
        return inputs

    def run_incremental(self, step, inputs):
        """Run the template (`call`) with every `apply` routed through ``step``."""
        saved = {name: getattr(self, name, None) for name in _TEMPLATE_STATE}
        for name in _TEMPLATE_STATE:  # recomputed by the pass from its own biases and positions
            setattr(self, name, None)
        self.incremental_pass = step
        try:
            return self.call(inputs)
        finally:
            self.incremental_pass = None
            for name, value in saved.items():
                setattr(self, name, value)

    def cached_call(self, token_ids, position_ids, attention_bias, caches, cache_index, segment_ids=None):
        """T new tokens through the KV caches → (logits (B, T, vocab), updated caches).

        token_ids, position_ids (B, T); attention_bias (B|1, 1, T, L) over the L cache slots; the
        chunk's keys/values are written at slot ``cache_index``.
        """
        step = IncrementalPass(attention_bias, caches, cache_index, position_ids)
        outputs = self.run_incremental(step, self.incremental_inputs(token_ids, segment_ids, position_ids))
        return step.token_logits(outputs, self.vocab_size), step.new_caches

    # ------------------------------------------------------------------ weights
    def load_variable(self, reader, name):
        """Read one TF1-named variable, applying keep_tokens / compound_tokens to vocab axes."""
        value = np.asarray(reader[name])
        if name in self.vocab_variables:
            if self.keep_tokens is not None:
                value = value[self.keep_tokens]
            value = self.extend_with_compound_tokens(value)
        return value

    def extend_with_compound_tokens(self, value):
        """Append one row per compound token: the mean of its rows, or for ``(ids, weights)`` (as in
        bert4keras) their weighted mean."""
        if self.compound_tokens is None:
            return value
        extra = []
        for item in self.compound_tokens:
            weighted = isinstance(item, tuple) and len(item) == 2 and not np.isscalar(item[0])
            ids, weights = item if weighted else (item, None)
            extra.append(np.average(value[list(ids)], axis=0, weights=weights))
        return np.concatenate([value, np.stack(extra).astype(value.dtype)], axis=0)

    def create_variable(self, name, value):
        """Inverse of `load_variable` for saving: the value written under ``name``."""
        return value

    #: HuggingFace tensors this model ties to another one: (copy, the tensor it must equal). A checkpoint
    #: whose copy differs (an untied head, tie_word_embeddings=false) cannot be read silently.
    tied_copies = ()

    def hf_tied_copies(self):
        return self.tied_copies

    def check_tied_copies(self, reader):
        """Refuse, naming them, HF tensors that differ from the tensor this model uses in their place."""
        for copy, reference in self.hf_tied_copies():
            if copy in reader and reference in reader:
                a, b = np.asarray(reader[copy]), np.asarray(reader[reference])
                if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-6):
                    raise CheckpointError(
                        f"{reader.path}: {copy!r} differs from {reference!r}, but {type(self).__name__} ties "
                        f"them (one shared tensor); this checkpoint was saved untied (tie_word_embeddings=false) "
                        "and would load wrongly"
                    )

    def open_weights(self, checkpoint_path):
        """Open any checkpoint and, if needed, view it under this family's TF1 names."""
        reader = open_checkpoint(checkpoint_path)
        wanted = [n for names in self.variable_mapping().values() for n in names]
        if wanted and not any(n in reader for n in wanted) and self.name_map is not None:
            from ..checkpoints.maps import RenamedReader

            self.check_tied_copies(reader)
            reader = RenamedReader(reader, self.name_map.hf_to_tf1(reader.keys(), self))
        return reader

    def load_weights_from_checkpoint(self, checkpoint_path, mapping=None):
        """Load every mapped variable; a missing variable or a wrong shape is an error
        naming the variable, both shapes and the file (unless ``ignore_invalid_weights``).

        Variables built under `deferred_initialization` (what `build_transformer_model` does
        when given a checkpoint) get their checkpoint value as their first value, and every
        other pending variable its random init, so no random copy of the covered weights is
        ever made. Variables that already hold a value are assigned. Either way one tensor is
        read at a time, and any problem is raised once every variable has a value.
        """
        from ..checkpoints.lazy_init import initialize_deferred, pending_variable_ids

        mapping = mapping or self.variable_mapping()
        problems = []

        def checkpoint_value(variable, ckpt_name):
            """The checkpoint tensor for ``variable`` as a numpy array, or None (problem noted)."""
            value = self.load_variable(reader, ckpt_name)
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(
                    f"variable {ckpt_name!r}: model expects shape {tuple(variable.shape)} "
                    f"(for {variable.path}), checkpoint has {tuple(value.shape)}"
                )
                return None
            return value.astype(variable.dtype, copy=False)

        def first_value(variable, ckpt_name):
            def make_value(own_initializer, shape, dtype):
                value = checkpoint_value(variable, ckpt_name)
                if value is None:
                    return own_initializer(shape, dtype=dtype)
                if keras.backend.backend() == "jax":  # a plain copy; jnp.asarray compiles a kernel per shape
                    import jax

                    return jax.device_put(value)
                return value

            return make_value

        pending = pending_variable_ids()
        deferred = {}
        try:
            with self.open_weights(checkpoint_path) as reader:
                for layer_name, names in mapping.items():
                    layer = self.layers.get(self.prefixed(layer_name))
                    if layer is None:
                        continue  # e.g. the pooler when with_pool=False
                    variables = mapped_variables(layer)
                    if len(variables) < len(names):
                        raise CheckpointError(
                            f"layer {layer_name!r} has {len(variables)} weights but the mapping names "
                            f"{len(names)} variables {names}"
                        )
                    # Weights past the mapped ones (e.g. conditional-LN projections) are new: they keep their init.
                    for variable, ckpt_name in zip(variables, names):
                        if ckpt_name not in reader:
                            problems.append(f"missing variable {ckpt_name!r} (for {variable.path})")
                        elif id(variable) in pending:
                            deferred[id(variable)] = first_value(variable, ckpt_name)
                        else:
                            value = checkpoint_value(variable, ckpt_name)
                            if value is not None:
                                variable.assign(value)
                initialize_deferred(deferred)
                source = reader.path
        finally:
            initialize_deferred({})  # after a failure: no variable is left without a value
        if problems:
            message = f"cannot load {source}: " + "; ".join(problems)
            if not self.ignore_invalid_weights:
                raise CheckpointError(
                    message + " (pass ignore_invalid_weights=True to keep the "
                    "initial values of these variables)"
                )
            logger.warning("ignore_invalid_weights=True, skipped: %s", message)

    def named_weights(self, mapping=None):
        """``{TF1 name: np.ndarray}`` of the current weights (what a TF1 checkpoint would hold).

        A layer with LoRA adapters contributes its merged weight (base + adapter update), so a
        checkpoint of an adapted model reproduces its outputs.
        """
        from ..lora import merged_values

        mapping = mapping or self.variable_mapping()
        tensors = {}
        for layer_name, names in mapping.items():
            layer = self.layers.get(self.prefixed(layer_name))
            if layer is None:
                continue
            variables = mapped_variables(layer)
            if len(variables) < len(names):
                raise CheckpointError(
                    f"layer {layer_name!r} has {len(variables)} weights but the mapping names "
                    f"{len(names)} variables {names}: the checkpoint would be incomplete"
                )
            merged = merged_values(layer)
            for variable, ckpt_name in zip(variables, names):
                value = merged.get(id(variable))
                value = ops.convert_to_numpy(variable) if value is None else value
                tensors[ckpt_name] = self.create_variable(ckpt_name, value)
        return tensors

    def save_weights_as_checkpoint(self, filename, mapping=None, dtype=None):
        """Write the weights as an original-layout TF1 checkpoint (readable by TensorFlow)."""
        tensors = self.named_weights(mapping)
        if dtype is not None:
            tensors = {k: v.astype(dtype) for k, v in tensors.items()}
        write_tf1_checkpoint(filename, tensors)

    def save_weights_as_huggingface(self, directory):
        """Write ``config.json`` + ``model.safetensors`` that ``transformers`` loads."""
        from ..checkpoints.export import export_huggingface

        return export_huggingface(self, directory)


# ---------------------------------------------------------------------- applications
class LM_Mask:
    """Application mixin: causal language model (position i sees j ≤ i)."""

    attention_pattern = "causal"

    def compute_attention_bias(self, inputs=None):
        if self.attention_bias is None:
            token_ids = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            padding = Transformer.compute_attention_bias(self, inputs)
            causal = self.apply(token_ids, CausalBias, name="Attention-LM-Bias")
            self.attention_bias = self.apply([padding, causal], SumBiases, name="Attention-Bias")
        return self.attention_bias


class UniLM_Mask:
    """Application mixin: UniLM seq2seq (source fully visible, target causal), from segment ids."""

    attention_pattern = "unilm"

    def compute_attention_bias(self, inputs=None):
        if self.attention_bias is None:
            if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
                raise ValueError(
                    "application='unilm' needs segment ids as the second input "
                    "(do not set segment_vocab_size=0)"
                )
            padding = Transformer.compute_attention_bias(self, inputs)
            unilm = self.apply(inputs[1], UniLMBias, name="Attention-UniLM-Bias")
            self.attention_bias = self.apply([padding, unilm], SumBiases, name="Attention-Bias")
        return self.attention_bias


class Custom_Mask:
    """Application mixin: a free-form additive attention bias as an extra, last model input.

    ``Input-Attention-Bias`` (B, T, T): 0 where query i may see key j, a large negative
    number (``NEG_INF``) where not; summed with the padding bias. Prefix LM, permutation
    LM and other custom masks need nothing else.
    """

    attention_pattern = "custom"

    def get_inputs(self):
        inputs = super().get_inputs()
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self.custom_attention_bias = keras.Input(
            shape=(self.sequence_length, self.sequence_length), name=self.prefixed("Input-Attention-Bias")
        )
        return inputs + [self.custom_attention_bias]

    def compute_attention_bias(self, inputs=None):
        if self.attention_bias is None:
            padding = Transformer.compute_attention_bias(self, inputs)
            custom = ops.expand_dims(self.custom_attention_bias, 1)  # (B, 1, T, T)
            self.attention_bias = self.apply([padding, custom], SumBiases, name="Attention-Bias")
        return self.attention_bias


APPLICATIONS = {"encoder": None, "lm": LM_Mask, "unilm": UniLM_Mask, "custom": Custom_Mask}


def with_application(model_class, application):
    """The family class combined with an application mixin ('encoder' | 'lm' | 'unilm' | 'custom')."""
    key = (application or "encoder").lower()
    if key not in APPLICATIONS:
        raise ValueError(f"application must be one of {sorted(APPLICATIONS)}, got {application!r}")
    mixin = APPLICATIONS[key]
    if mixin is None:
        return model_class
    if key == "custom":
        return type(f"{model_class.__name__}_{mixin.__name__}", (mixin, model_class), {})

    class LanguageModel(mixin, model_class):
        """lm / unilm models predict tokens: the MLM head is on unless ``with_mlm`` was given (as in bert4keras)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if hasattr(self, "with_mlm"):
                self.with_mlm = self.with_mlm or True

    LanguageModel.__name__ = LanguageModel.__qualname__ = f"{model_class.__name__}_{mixin.__name__}"
    return LanguageModel
