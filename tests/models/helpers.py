"""Shared helpers for parity tests: tiny random `transformers` models and padded batches."""

import numpy as np
from keras import ops

# Odd sizes on purpose: 3 heads of 16, an intermediate size that is not a multiple of anything.
TINY = dict(
    vocab_size=131,
    hidden_size=48,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=37,
    max_position_embeddings=40,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def padded_batch(lengths, vocab_size, seq_len=None, pad_id=0, low=None, seed=0, segments=None):
    """Random token ids (B, T), right-padded with ``pad_id``, and random segment ids."""
    rng = np.random.default_rng(seed)
    seq_len = seq_len or max(lengths)
    low = low if low is not None else pad_id + 1
    token_ids = np.full((len(lengths), seq_len), pad_id, dtype="int32")
    segment_ids = np.zeros((len(lengths), seq_len), dtype="int32")
    for row, length in enumerate(lengths):
        token_ids[row, :length] = rng.integers(low, vocab_size, size=length)
        if segments:
            segment_ids[row, :length] = rng.integers(0, segments, size=length)
    return token_ids, segment_ids


def to_numpy(x):
    if isinstance(x, (list, tuple)):
        return [to_numpy(v) for v in x]
    return ops.convert_to_numpy(x)


def hf_inputs(token_ids, segment_ids):
    """Keyword inputs of a `transformers` BERT-like model for a right-padded batch (pad id 0)."""
    import torch

    return dict(
        input_ids=torch.tensor(token_ids, dtype=torch.long),
        token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
        attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
    )


def torch_numpy(t):
    return t.detach().cpu().numpy()


def assert_close(actual, expected, atol=1e-4, where=None, what=""):
    """Compare, optionally only at positions where ``where`` (B, T) is True; atol scales with max |expected|."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if where is not None:
        actual, expected = actual[where], expected[where]
    diff = np.max(np.abs(actual - expected))
    allowed = atol * max(1.0, float(np.max(np.abs(expected))))  # relative once values exceed 1
    assert diff <= allowed, f"{what}: max abs diff {diff:.3g} > {allowed:.3g}"


def randomize_parameters(module, std=0.25, gain_std=0.2, seed=0):
    """Redraw every trainable parameter of a `transformers` (torch) model, in place.

    Weights and biases ~ N(0, std); 1-D ``*.weight`` tensors (LayerNorm / RMSNorm gains) ~ 1 + N(0, gain_std).
    At the default init (std 0.02, zero biases, unit gains) attention is almost uniform and a wrong bias,
    position or norm mapping hardly shows; at this scale every tensor's mapping changes the outputs.
    Frozen parameters (e.g. RoFormer's fixed sinusoid table) are left alone. Returns the module.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if not parameter.requires_grad:
                continue
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float32)
            if parameter.ndim == 1 and name.endswith("weight"):
                parameter.copy_(1.0 + gain_std * noise)
            else:
                parameter.copy_(std * noise)
    return module
