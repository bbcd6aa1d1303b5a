"""Logits processors for `generate`, as pure `keras.ops` functions.

Every function maps logits of shape (batch, vocab) to logits of the same shape, so they
compose and trace inside a compiled loop on every backend. Tokens that must not be chosen
get `NEG_INF`, a large finite negative number: it survives softmax/log-softmax without NaNs.
"""

from keras import ops

from ..numerics import NEG_INF


def check_sampling_args(temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0):
    """Raise a clear ValueError for out-of-range sampling arguments."""
    if temperature is None or not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if top_k is not None and (int(top_k) != top_k or top_k <= 0):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")
    if repetition_penalty is None or not repetition_penalty > 0:
        raise ValueError(f"repetition_penalty must be > 0, got {repetition_penalty!r}")


def apply_temperature(logits, temperature):
    """Divide logits by the temperature (< 1 sharpens, > 1 flattens)."""
    if temperature == 1:
        return logits
    return logits / temperature


def top_k_filter(logits, k):
    """Keep the k largest logits per row (ties with the k-th are kept too)."""
    k = min(int(k), logits.shape[-1])
    kth = ops.top_k(logits, k, sorted=True)[0][:, -1:]  # (batch, 1)
    return ops.where(logits < kth, NEG_INF, logits)


def top_p_filter(logits, p):
    """Keep the smallest set of most probable tokens whose probability mass reaches p.

    A token is kept when the mass of strictly more probable tokens is below p, so the
    most probable token is always kept.
    """
    if p >= 1:
        return logits
    ascending = ops.sort(logits, axis=-1)  # (batch, vocab)
    probas = ops.softmax(ascending, axis=-1)
    mass_above = 1.0 - ops.cumsum(probas, axis=-1)  # mass of tokens after each one
    kept = mass_above < p
    # the smallest kept logit is the threshold; the top token is always kept
    kept = ops.logical_or(kept, ops.arange(logits.shape[-1]) == logits.shape[-1] - 1)
    threshold = ops.min(ops.where(kept, ascending, -NEG_INF), axis=-1, keepdims=True)
    return ops.where(logits < threshold, NEG_INF, logits)


def apply_repetition_penalty(logits, seen, penalty):
    """CTRL-style penalty on already generated tokens.

    seen: (batch, vocab) boolean mask of tokens present in the sequence. Their positive
    logits are divided by `penalty`, negative ones multiplied by it.
    """
    if penalty == 1:
        return logits
    penalised = ops.where(logits > 0, logits / penalty, logits * penalty)
    return ops.where(seen, penalised, logits)


def suppress(logits, token_ids, condition=True):
    """Set the logits of `token_ids` to NEG_INF (per row where `condition` holds).

    Used for min_new_tokens: the stop ids are suppressed until enough tokens exist.
    """
    if not token_ids:
        return logits
    vocab = logits.shape[-1]
    banned = ops.any(ops.arange(vocab)[:, None] == ops.array(list(token_ids))[None, :], axis=-1)
    banned = ops.logical_and(banned[None, :], ops.reshape(condition, (-1, 1)))
    return ops.where(banned, NEG_INF, logits)


def mark_seen(seen, token_ids, valid=None):
    """Add `token_ids` (batch, length) to the (batch, vocab) boolean `seen` mask.

    valid: optional (batch, length) mask; padding positions are ignored.
    """
    vocab = seen.shape[-1]
    hits = ops.one_hot(token_ids, vocab, dtype="bool")  # (batch, length, vocab)
    if valid is not None:
        hits = ops.logical_and(hits, ops.cast(valid, "bool")[..., None])
    return ops.logical_or(seen, ops.any(hits, axis=1))


def process_logits(
    logits,
    temperature=1.0,
    top_k=None,
    top_p=None,
    repetition_penalty=1.0,
    seen=None,
):
    """The full processing chain used by sampling: penalty, temperature, top-k, top-p."""
    if seen is not None:
        logits = apply_repetition_penalty(logits, seen, repetition_penalty)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits
