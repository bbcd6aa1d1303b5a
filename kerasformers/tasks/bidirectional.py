"""Bidirectional decoding ("seq2seq之双向解码", Su Jianlin 2019): a left-to-right (L2R) and a
right-to-left (R2L) decoder grow the answer from both ends in one beam search.

Both directions keep ``topk`` candidates and advance one token per step. ``score_pairs`` scores
every (L2R i, R2L j) pair of candidates. With the article's interactive attention (the ``title-generation`` option
``bidirectional=True`` below, and ``examples/bidirectional_seq2seq.py``) each side conditions
on the other side's partial output, so a candidate's next-token log-probability depends on its
partner; it is its mean over its partners. Decoding stops as soon as
one direction's best candidate has ended and its score is at least the other direction's best:
running scores only go down, so it can no longer be overtaken.

The title task's half lives here too: the R2L UniLM model trained on reversed titles next to the
L2R one, the interactive attention that joins them, and the decoder.
"""

import keras
import numpy as np

from ..layers import PaddingBias, SumBiases, UniLMBias

R2L_PREFIX = "R2L-"


def log_softmax(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def _advance(candidates, scores, step_logprobs, topk, end_id):
    """One beam step of one direction → (candidates, scores, ended)."""
    total = scores[:, None] + step_logprobs  # (k, V)
    best = np.argsort(-total, axis=None, kind="stable")[:topk]
    rows, tokens = np.unravel_index(best, total.shape)
    candidates = np.concatenate([candidates[rows], tokens[:, None].astype(candidates.dtype)], axis=1)
    return candidates, total[rows, tokens], tokens == end_id


def bidirectional_beam_search(score_pairs, end_id, max_steps, topk=3, both_sides=True):
    """The answer's token ids, left to right, without the end token.

    ``score_pairs(l2r, r2l)``: candidates, int arrays (k_l, t) and (k_r, t) of generated ids (no
    start token) → next-token log-probabilities (k_l, k_r, V) of the L2R and of the R2L side.
    ``both_sides=False``: the L2R beam alone (the R2L side stays empty), for comparison.
    """
    l2r = r2l = np.zeros((1, 0), "int32")
    l_scores, r_scores = np.zeros(1), np.zeros(1)
    for _ in range(max_steps):
        l_logprobs, r_logprobs = score_pairs(l2r, r2l)
        l2r, l_scores, l_end = _advance(l2r, l_scores, l_logprobs.mean(axis=1), topk, end_id)
        if both_sides:
            r2l, r_scores, r_end = _advance(r2l, r_scores, r_logprobs.mean(axis=0), topk, end_id)
        best_l, best_r = l_scores.argmax(), r_scores.argmax()
        r_best = r_scores[best_r] if both_sides else -np.inf
        if l_end[best_l] and l_scores[best_l] >= r_best:
            return l2r[best_l, :-1]
        if both_sides and r_end[best_r] and r_best >= l_scores[best_l]:
            return r2l[best_r, :-1][::-1]
        l2r, l_scores = l2r[~l_end], l_scores[~l_end]  # ended but beaten: out of the beam
        if both_sides:
            r2l, r_scores = r2l[~r_end], r_scores[~r_end]
        if not len(l2r) or (both_sides and not len(r2l)):
            break
    # no winner within max_steps (or one side ran dry): the better unfinished candidate
    if both_sides and len(r2l) and (not len(l2r) or r_scores.max() > l_scores.max()):
        return r2l[r_scores.argmax()][::-1]
    return l2r[l_scores.argmax()] if len(l2r) else np.zeros(0, "int32")


# ---- the title-generation option (UniLM, BERT family) ------------------------------------


def build_pair(task):
    """Add the R2L UniLM model and the article's interactive attention to a built
    ``title-generation`` task.

    Both UniLM models run in one graph (``task.pair_model``: L2R ids and segments, R2L ids and
    segments → L2R and R2L logits). After each block, each side attends to the other side's
    states of the same layer: a query sees the other side's source and its target up to the
    same step (the UniLM mask), so each direction conditions on what the other has produced so
    far. The training graph holds both losses (their sum is the training loss), so ``save`` /
    ``load`` keep both models and the interactive layers.
    """
    from .title import UniLMLoss

    if task.is_t5:
        raise ValueError(
            f"{task.name}: bidirectional=True needs a BERT-family (UniLM) model; {task.spec.model!r} is "
            "not supported (use model=bert, or bidirectional=False for T5)"
        )
    task.r2l_transformer = task.spec.build(application="unilm", with_mlm="linear", prefix=R2L_PREFIX)
    sides = (task.transformer, task.r2l_transformer)
    inputs = [
        keras.Input(shape=(None,), dtype="int32", name=f"{side.prefix}Pair-Input-{kind}")
        for side in sides
        for kind in ("Token", "Segment")
    ]
    side_inputs = (inputs[:2], inputs[2:])
    states = [side.apply_embeddings(ids) for side, ids in zip(sides, side_inputs)]
    # What a query of each side may see of the other side: UniLM mask of its own segments plus
    # the other side's padding.
    biases = [
        side.apply(
            [
                side.apply(own[1], UniLMBias, name="Interactive-UniLM-Bias"),
                side.apply(other[0], PaddingBias, name="Interactive-Padding-Bias"),
            ],
            SumBiases,
            name="Interactive-Bias",
        )
        for side, own, other in zip(sides, side_inputs, side_inputs[::-1])
    ]
    for index in range(task.transformer.num_hidden_layers):
        states = [side.apply_main_layers(x, index) for side, x in zip(sides, states)]
        states = [
            _interactive_attention(side, index, x, other, bias)
            for side, x, other, bias in zip(sides, states, states[::-1], biases)
        ]
    logits = [side.apply_final_layers(x) for side, x in zip(sides, states)]
    task.pair_model = keras.Model(inputs, logits, name="bidirectional_unilm")
    losses = [
        UniLMLoss(output_axis=2, name=f"{side.prefix}UniLM-Loss")([*ids, out])
        for side, ids, out in zip(sides, side_inputs, logits)
    ]
    task.train_model = keras.Model(inputs, losses)


def _interactive_attention(side, index, x, other, bias):
    """x = LN(x + Attn(x, other, other)): one side reads the other side's states."""
    name = f"{side.block_name(index)}-Interactive-Attention"
    h = side.attention([x, other, other], name, {"attention_bias": bias})
    return side.layer_norm(side.residual(x, h, name), name=f"{name}-Norm")


def add_r2l_features(feature):
    """A UniLM training feature gets ``r2l_token_ids``: the same source, the title reversed, then [SEP]."""
    source_length = feature["segment_ids"].count(0)
    source, target = feature["token_ids"][:source_length], feature["token_ids"][source_length:]
    feature["r2l_token_ids"] = source + target[-2::-1] + target[-1:]
    return feature


def _pair_scorer(pair_model, source, length, topk):
    """``score_pairs`` over the task's pair model: every (L2R i, R2L j) pair of candidates in one
    batch, each side reading the other's partial output. The batch is always ``topk``² rows of
    ``length`` tokens (padded), so the model compiles once per length."""
    rows = np.zeros((topk * topk, length), "int32")
    rows[:, : len(source)] = source

    def score_pairs(l2r, r2l):
        k_l, k_r, steps = len(l2r), len(r2l), l2r.shape[1]
        left, right = rows.copy(), rows.copy()
        end = len(source) + steps
        left[: k_l * k_r, len(source) : end] = np.repeat(l2r, k_r, axis=0)
        right[: k_l * k_r, len(source) : len(source) + r2l.shape[1]] = np.tile(r2l, (k_l, 1))
        segments = np.zeros_like(rows)
        segments[:, len(source) :] = 1  # padding after the candidates sits in the (unseen) future
        l_logits, r_logits = pair_model.predict_on_batch([left, segments, right, segments])
        shape = (k_l, k_r, -1)
        return (
            log_softmax(np.asarray(l_logits[: k_l * k_r, end - 1], "float64")).reshape(shape),
            log_softmax(np.asarray(r_logits[: k_l * k_r, len(source) + r2l.shape[1] - 1], "float64")).reshape(
                shape
            ),
        )

    return score_pairs


def decode_titles(task, prompts, both_sides=True, topk=None):
    """Prompts ([CLS] source [SEP] ids) → title ids, by the bidirectional beam over the task's pair
    model (``topk`` candidates per side, default ``beam_size``; 1 is greedy).
    ``both_sides=False``: the L2R beam alone (the R2L side stays empty)."""
    from .base import bucket_length

    topk = topk or task.options["beam_size"]
    max_steps = task.options["max_target_length"] + 1
    results = []
    for source in prompts:
        length = bucket_length([len(source) + max_steps], task.maxlen)
        score_pairs = _pair_scorer(task.pair_model, source, length, topk)
        ids = bidirectional_beam_search(
            score_pairs, task.tokenizer._token_end_id, max_steps, topk, both_sides
        )
        results.append([int(i) for i in ids])
    return results
