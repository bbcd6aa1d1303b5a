"""Cached (incremental) decoding with the same block code that builds the graph.

A family writes its embeddings, blocks and heads once, as template steps that call
``self.apply(inputs, LayerClass, name=..., arguments=...)``. When building, `apply` creates
the named layer and calls it on Keras tensors. Inside `Transformer.cached_call`, an
`IncrementalPass` is active and `apply` routes every call to `IncrementalPass.call` with the
already-built layer instead; the pass decides how each layer runs for a chunk of new
tokens:

* self-attention (`MultiHeadAttention` on ``[x, x, x]``) reads and extends its layer's KV
  cache ``(B, 2, L, heads, head_size)`` at ``cache_index`` under the pass's attention bias;
* cross-attention (keys given as `CONTEXT`, the encoder output's stand-in) reads the
  precomputed cross caches under the context padding bias;
* position layers and attention-bias layers implement ``incremental_call(inputs, step)``
  and read the pass's positions / bias (the capability a position-aware layer must offer);
* dropout is skipped and a softmax head returns its logits;
* token-wise layers (dense, norms, feed-forward, embeddings, residual adds) run as usual.

Any other layer would see only the new tokens and silently compute the wrong thing, so it
is refused, by `unsupported_layers` before decoding starts and by `call` if reached.
"""

import keras

from ..layers import (
    CACHE_LENGTH_AXIS,
    CONTEXT,
    BiasAdd,
    Embedding,
    FeedForward,
    LayerNormalization,
    MultiHeadAttention,
    Scale,
    ScaleOffset,
    TakeToken,
)

#: Layers whose output at a position depends on that position's input only, so running them on
#: the new tokens alone is exact. `TakeToken` only feeds pooled heads, which decoding discards.
TOKENWISE_LAYERS = (
    keras.layers.Dense,
    keras.layers.Add,
    keras.layers.Activation,
    keras.layers.Dropout,
    Embedding,
    LayerNormalization,
    FeedForward,
    BiasAdd,
    Scale,
    ScaleOffset,
    TakeToken,
)


def runs_incrementally(layer):
    """Whether `IncrementalPass` can run ``layer`` on a chunk of new tokens exactly."""
    return (
        isinstance(layer, MultiHeadAttention)
        or hasattr(layer, "incremental_call")
        or isinstance(layer, TOKENWISE_LAYERS)
    )


def unsupported_layers(layers):
    """``["name (Class)", ...]`` of the layers a cached pass cannot run."""
    return [
        f"{name} ({type(layer).__name__})" for name, layer in layers.items() if not runs_incrementally(layer)
    ]


class IncrementalPass:
    """The state of one cached forward pass over T new tokens.

    attention_bias (B|1, 1|heads, T, L): which cache slots each new token may see.
    caches: one (B, 2, L, heads, head_size) tensor per self-attention call, in call order.
    cache_index: the slot of the first new token. position_ids (B|1, T): absolute positions.
    cross_caches / cross_bias: an encoder-decoder's per-layer context keys/values (B, 2, S, ·)
    and context padding bias (B, 1, 1, S).
    """

    def __init__(self, attention_bias, caches, cache_index, position_ids, cross_caches=None, cross_bias=None):
        self.attention_bias = attention_bias
        self.caches = caches
        self.cache_index = cache_index
        self.position_ids = position_ids
        self.cross_caches = cross_caches
        self.cross_bias = cross_bias
        self.new_caches = []
        self.cross_calls = 0

    @property
    def cache_length(self):
        return self.caches[0].shape[CACHE_LENGTH_AXIS]

    @property
    def context_length(self):
        return self.cross_caches[0].shape[CACHE_LENGTH_AXIS]

    def call(self, name, layer, inputs, arguments):
        if isinstance(layer, keras.layers.Dropout):
            return inputs
        if isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.softmax:
            return inputs  # decoders sample from logits
        if isinstance(layer, MultiHeadAttention):
            return self.attend(layer, inputs, arguments)
        if hasattr(layer, "incremental_call"):
            return layer.incremental_call(inputs, self)
        if isinstance(layer, TOKENWISE_LAYERS):
            return layer(inputs, **arguments)
        raise NotImplementedError(
            f"layer {name!r} ({type(layer).__name__}) mixes positions and has no cached-decoding path"
        )

    def attend(self, layer, inputs, arguments):
        arguments = {k: v for k, v in arguments.items() if k != "attention_bias"}
        queries, keys = inputs[0], inputs[1]
        if keys is CONTEXT:
            cache = self.cross_caches[self.cross_calls]
            self.cross_calls += 1
            return layer(
                [queries, queries, queries], attention_bias=self.cross_bias, cache=cache, **arguments
            )
        if len(self.new_caches) == len(self.caches):
            raise ValueError(
                f"the pass was given {len(self.caches)} caches but the model has more attentions"
            )
        output, cache = layer(
            inputs,
            attention_bias=self.attention_bias,
            cache=self.caches[len(self.new_caches)],
            cache_index=self.cache_index,
            **arguments,
        )
        self.new_caches.append(cache)
        return output

    def token_logits(self, outputs, vocab_size):
        """The (B, T, vocab) output among a model's outputs (BERT may also return a pooled head)."""
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for output in reversed(outputs):
            if len(output.shape) == 3 and output.shape[-1] == vocab_size:
                return output
        raise ValueError("the model has no (batch, length, vocab) output to decode from")
