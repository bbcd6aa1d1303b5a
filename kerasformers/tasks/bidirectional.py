"""Bidirectional decoding ("seq2seq之双向解码", Su Jianlin 2019): a left-to-right (L2R) and a
right-to-left (R2L) decoder grow the answer from both ends in one beam search.

Both directions keep ``topk`` candidates and advance one token per step. ``score_pairs`` scores
every (L2R i, R2L j) pair of candidates. A model with interactive attention (the article's; see
``examples/bidirectional_seq2seq.py``) lets each side condition on the other side's partial
output; two separately trained models (the ``title-generation`` option ``bidirectional=True``)
score each side on its own, so there a candidate's score does not depend on its partner. A
candidate's next-token log-probability is its mean over its partners. Decoding stops as soon as
one direction's best candidate has ended and its score is at least the other direction's best:
running scores only go down, so it can no longer be overtaken.

The title task's half lives here too: the R2L UniLM model (trained on reversed titles next to the
L2R one, in one training graph, so ``save`` / ``load`` keep both) and its decoder.
"""

import keras
import numpy as np

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


def build_r2l(task):
    """Add the R2L UniLM model to a built ``title-generation`` task: one training graph holds both
    models and both losses (their sum is the training loss), so ``save`` / ``load`` keep both."""
    from .title import UniLMLoss

    if task.is_t5:
        raise ValueError(
            f"{task.name}: bidirectional=True needs a BERT-family (UniLM) model; {task.spec.model!r} is "
            "not supported (use model=bert, or bidirectional=False for T5)"
        )
    task.r2l_transformer = task.spec.build(application="unilm", with_mlm="linear", prefix=R2L_PREFIX)
    token_ids, segment_ids = task.r2l_transformer.model.inputs
    r2l_loss = UniLMLoss(output_axis=2, name=f"{R2L_PREFIX}UniLM-Loss")(
        [token_ids, segment_ids, task.r2l_transformer.model.output]
    )
    l2r = task.train_model
    task.train_model = keras.Model([*l2r.inputs, token_ids, segment_ids], [l2r.output, r2l_loss])


def add_r2l_features(feature):
    """A UniLM training feature gets ``r2l_token_ids``: the same source, the title reversed, then [SEP]."""
    source_length = feature["segment_ids"].count(0)
    source, target = feature["token_ids"][:source_length], feature["token_ids"][source_length:]
    feature["r2l_token_ids"] = source + target[-2::-1] + target[-1:]
    return feature


def _side_logprobs(model, source, candidates, rows):
    """Next-token log-probabilities of UniLM ``model`` for each candidate after ``source``. The
    batch is always ``rows`` sequences long (padded), so the model compiles once per length."""
    count, steps = candidates.shape
    token_ids = rows.copy()
    token_ids[:count, len(source) : len(source) + steps] = candidates
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, len(source) :] = 1  # padding after the candidate sits in the (unseen) future
    logits = model.predict_on_batch([token_ids, segment_ids])
    return log_softmax(np.asarray(logits[:count, len(source) + steps - 1], "float64"))


def _unilm_pair_scorer(l2r_model, r2l_model, source, rows, both_sides):
    """``score_pairs`` for two separately trained UniLM models: each side scores on its own, so the
    pair score is the side's score broadcast over its partners."""

    def score_pairs(l2r, r2l):
        left = _side_logprobs(l2r_model, source, l2r, rows)[:, None]
        right = _side_logprobs(r2l_model, source, r2l, rows)[None] if both_sides else left[:1]
        shape = (len(l2r), len(r2l), left.shape[-1])
        return np.broadcast_to(left, shape), np.broadcast_to(right, shape)

    return score_pairs


def decode_titles(task, prompts, both_sides=True):
    """Prompts ([CLS] source [SEP] ids) → title ids, by the bidirectional beam over the task's L2R
    and R2L models (``beam_size`` candidates per side). ``both_sides=False``: the L2R beam alone."""
    from .base import bucket_length

    topk, max_steps = task.options["beam_size"], task.options["max_target_length"] + 1
    l2r_model, r2l_model = task.transformer.model, task.r2l_transformer.model
    results = []
    for source in prompts:
        length = bucket_length([len(source) + max_steps], task.maxlen)
        rows = np.zeros((topk, length), "int32")
        rows[:, : len(source)] = source
        score_pairs = _unilm_pair_scorer(l2r_model, r2l_model, source, rows, both_sides)
        ids = bidirectional_beam_search(
            score_pairs, task.tokenizer._token_end_id, max_steps, topk, both_sides
        )
        results.append([int(i) for i in ids])
    return results
