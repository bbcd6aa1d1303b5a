"""Incremental (KV-cached) decoders over built kerasformers models.

A decoder turns a model into two functions used by `generate`:

    logits, state = decoder.prefill(prompt_ids, prompt_valid, total_length)
    logits, state = decoder.step(state, token_ids, cache_index)

`state` is a dict of tensors whose first axis is the batch row (caches, key validity,
next positions...), so beam search can reorder it with one `take` per tensor. Every
function uses `keras.ops` only and traces inside a compiled loop.

Shapes: B rows, P prompt length (left-padded), L cache length (P + new tokens), V vocab.
"""

import numpy as np
from keras import ops

from ..layers import CACHE_LENGTH_AXIS
from ..numerics import NEG_INF  # the additive-mask value kerasformers.layers.masks uses too


def _bias(allowed):
    """Boolean (B, T, L) → additive attention bias (B, 1, T, L)."""
    return ops.where(allowed, 0.0, NEG_INF)[:, None]


def left_pad(prompts, pad_id):
    """List of id sequences (or a 2-D array) → (ids, valid) left-padded (B, P) int32 arrays."""
    if isinstance(prompts, np.ndarray) and prompts.ndim == 2:
        return prompts.astype("int32"), np.ones(prompts.shape, dtype=bool)
    rows = [np.asarray(p, dtype="int32").reshape(-1) for p in prompts]
    if any(len(r) == 0 for r in rows):
        raise ValueError("every prompt needs at least one token (got an empty prompt)")
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype="int32")
    valid = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = r
        valid[i, width - len(r) :] = True
    return ids, valid


def map_state(fn, state):
    """Apply `fn` to every tensor of a (nested dict / list) state."""
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(map_state(fn, v) for v in state)
    return fn(state)


class CausalDecoder:
    """Decoder-only generation over `model.cached_call`: any causal or UniLM model whose layers
    all have a cached path (GPT, GPT-2, GPT2_ML, BERT / ALBERT / RoFormer LM and UniLM...).

    unilm=True: the prompt is the source, fully visible to itself (UniLM seq2seq);
    generated tokens get segment id 1 and attend causally. Otherwise the prompt is causal.
    """

    def __init__(self, model, unilm=False):
        problem = model.cached_decoding_problem()
        if problem is not None:
            raise ValueError(
                f"{type(model).__name__} cannot decode with a KV cache: {problem}. "
                "AutoRegressiveDecoder decodes any model over its full forward pass instead"
            )
        self.model = model
        self.unilm = unilm
        self.forward = model.cached_call
        self.init_caches = model.init_caches
        self.max_position = getattr(model, "max_position", None)
        self.variables = model.model.variables

    def prefill(self, prompt_ids, prompt_valid, total_length, segment_ids=None):
        """prompt_ids, prompt_valid (B, P), left-padded. Returns last-position logits (B, V).

        segment_ids (B, P), optional: the prompt's segments (CDial-GPT's speaker ids); the new
        tokens then take each row's last prompt segment.
        """
        batch, prompt_len = prompt_ids.shape
        valid = ops.cast(prompt_valid, "bool")
        key_valid = ops.concatenate(
            [valid, ops.ones((batch, total_length - prompt_len), dtype="bool")], axis=1
        )  # (B, L)
        positions = ops.maximum(ops.cumsum(ops.cast(valid, "int32"), axis=1) - 1, 0)
        q = ops.arange(prompt_len)[:, None]
        k = ops.arange(total_length)[None, :]
        visible = (k < prompt_len) if self.unilm else (k <= q)  # (P, L)
        bias = _bias(ops.logical_and(key_valid[:, None, :], visible[None]))
        segments = ops.zeros_like(prompt_ids) if segment_ids is None else ops.cast(segment_ids, "int32")
        logits, caches = self.forward(
            prompt_ids, positions, bias, self.init_caches(batch, total_length), 0, segment_ids=segments
        )
        state = {
            "caches": caches,
            "key_valid": key_valid,
            "next_position": ops.sum(ops.cast(valid, "int32"), axis=1),
        }
        if segment_ids is not None:
            state["next_segment"] = segments[:, -1]
        return logits[:, -1], state

    def step(self, state, token_ids, cache_index):
        """token_ids (B,) written at cache slot `cache_index`; returns logits (B, V)."""
        key_valid = state["key_valid"]
        visible = ops.arange(key_valid.shape[1])[None, :] <= cache_index
        bias = _bias(ops.logical_and(key_valid, visible)[:, None, :])
        positions = state["next_position"][:, None]
        if "next_segment" in state:
            segments = state["next_segment"][:, None]
        else:
            segments = ops.ones_like(token_ids[:, None]) if self.unilm else ops.zeros_like(token_ids[:, None])
        logits, caches = self.forward(
            token_ids[:, None], positions, bias, state["caches"], cache_index, segment_ids=segments
        )
        state = {**state, "caches": caches, "next_position": state["next_position"] + 1}
        return logits[:, -1], state

    def prepare_inputs(self, prompts, pad_id):
        return left_pad(prompts, pad_id)

    def first_step_index(self, prompt_len):
        """Cache slot of the first generated token."""
        return prompt_len

    def context_tokens(self, ids, valid):
        """Tokens that count as already generated (for the repetition penalty)."""
        return ids, valid

    def check_length(self, prompt_len, max_new_tokens):
        if self.max_position is not None and prompt_len + max_new_tokens > self.max_position:
            raise ValueError(
                f"prompt length {prompt_len} + max_new_tokens {max_new_tokens} exceeds the model's "
                f"position table ({self.max_position} positions)"
            )


def resolve_builder(model):
    """The builder object behind a kerasformers Keras model (or ``model`` itself)."""
    return getattr(model, "transformer", None) or model


def decoder_for(model):
    """The right decoder for a kerasformers model: the builder object or the Keras model it built."""
    model = resolve_builder(model)
    if not hasattr(model, "variable_mapping"):
        raise TypeError(
            f"generate() needs a model built by kerasformers.models.build_transformer_model, got "
            f"{type(model).__name__}: for a Keras model built elsewhere, decode with "
            "kerasformers.generation.AutoRegressiveDecoder over its full forward pass"
        )
    if hasattr(model, "encode"):
        return Seq2SeqDecoder(model)
    return CausalDecoder(model, unilm=model.attention_pattern == "unilm")


class Seq2SeqDecoder:
    """Encoder-decoder generation (T5): the encoder runs once, cross-attention keys and
    values are computed once, and the decoder self-attention uses a KV cache."""

    def __init__(self, model, decoder_start_id=0):
        problem = model.cached_decoding_problem()
        if problem is not None:
            raise ValueError(f"{type(model).__name__} cannot decode with a KV cache: {problem}")
        self.model = model
        self.start_id = decoder_start_id
        self.variables = model.model.variables

    def prepare_inputs(self, sources, pad_id):
        """Sources are right-padded with 0 (T5's padding id), as the encoder expects."""
        ids, valid = left_pad(sources, 0)
        if isinstance(sources, np.ndarray) and sources.ndim == 2:
            return ids, ids != 0
        order = np.argsort(~valid, axis=1, kind="stable")  # move padding to the right
        return np.take_along_axis(ids, order, 1), np.take_along_axis(valid, order, 1)

    def first_step_index(self, prompt_len):
        return 1  # slot 0 holds the decoder start token

    def context_tokens(self, ids, valid):
        start = ops.full((ids.shape[0], 1), self.start_id, dtype="int32")
        return start, None

    def check_length(self, prompt_len, max_new_tokens):
        return None  # relative positions: no length limit

    def prefill(self, source_ids, source_valid, total_length):
        batch = source_ids.shape[0]
        length = total_length - source_ids.shape[1] + 1  # start token + new tokens
        state = {
            "caches": self.model.init_caches(batch, length),
            "cross_caches": self.model.encode(source_ids),
            "cross_bias": _bias(ops.cast(source_valid, "bool")[:, None, :]),  # (B, 1, 1, S)
        }
        start = ops.full((batch,), self.start_id, dtype="int32")
        return self.step(state, start, 0)

    def step(self, state, token_ids, cache_index):
        length = state["caches"][0].shape[CACHE_LENGTH_AXIS]
        visible = ops.arange(length)[None, None, None, :] <= cache_index
        self_bias = ops.where(visible, 0.0, NEG_INF)  # (1, 1, 1, L)
        logits, caches = self.model.cached_call(
            token_ids[:, None],
            ops.reshape(ops.cast(cache_index, "int32"), (1, 1)),  # the new token's position
            self_bias,
            state["caches"],
            cache_index,
            state["cross_caches"],
            state["cross_bias"],
        )
        return logits[:, -1], {**state, "caches": caches}
