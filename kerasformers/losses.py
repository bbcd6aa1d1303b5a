"""Losses from Su Jianlin's multi-label softmax family (used by GlobalPointer heads).

The "multilabel categorical crossentropy" scores every class with one logit
s_i and asks that every positive class outscore every negative one, with 0 as
the threshold:

    loss = log(1 + sum_{i in neg} exp(s_i)) + log(1 + sum_{j in pos} exp(-s_j))

Unlike per-class sigmoid BCE, it needs no class weighting when positives are
rare (e.g. the T*T span grid of a GlobalPointer).
"""

from keras import ops

_BIG = 1e12  # "infinity" that stays finite in float32/bfloat16 arithmetic


def multilabel_categorical_crossentropy(y_true, y_pred):
    """Dense form. y_true: (..., classes) in {0, 1}; y_pred: (..., classes) logits → (...)."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    signed = (1 - 2 * y_true) * y_pred  # negatives keep s_i, positives become -s_j
    neg = signed - y_true * _BIG  # positives drop out
    pos = signed - (1 - y_true) * _BIG  # negatives drop out
    zeros = ops.zeros_like(y_pred[..., :1])  # the "1 +" term: exp(0)
    neg_loss = ops.logsumexp(ops.concatenate([neg, zeros], axis=-1), axis=-1)
    pos_loss = ops.logsumexp(ops.concatenate([pos, zeros], axis=-1), axis=-1)
    return neg_loss + pos_loss


def sparse_multilabel_categorical_crossentropy(y_true, y_pred, mask_zero=False):
    """Sparse form: y_true holds the positive class ids, (..., num_positives).

    Cheaper than the dense form when classes are many and positives few. Ids
    must be unique per row. With ``mask_zero=True`` class id 0 is padding
    (it is never scored), so rows may carry different numbers of positives.

    The negative part uses log(1 + sum_neg e^s) = log(1 + sum_all e^s) +
    log(1 - sum_pos e^s / (1 + sum_all e^s)), which avoids materialising the
    dense label matrix.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, "int32")
    zeros = ops.zeros_like(y_pred[..., :1])
    scores = ops.concatenate([y_pred, zeros], axis=-1)  # (..., classes + 1)
    pos_scores = ops.take_along_axis(scores, y_true, axis=-1)  # (..., num_positives)
    if mask_zero:
        is_pad = ops.equal(y_true, 0)
        # Padding ids contribute exp(-inf) = 0 to both sums below.
        pos_for_pos = ops.where(is_pad, _BIG, pos_scores)
        pos_for_neg = ops.where(is_pad, -_BIG, pos_scores)
        scores = ops.concatenate([-_BIG * ops.ones_like(zeros), scores[..., 1:]], axis=-1)
    else:
        pos_for_pos = pos_for_neg = pos_scores
    pos_loss = ops.logsumexp(ops.concatenate([-pos_for_pos, zeros], axis=-1), axis=-1)
    all_loss = ops.logsumexp(scores, axis=-1)  # log(1 + sum_all e^s)
    pos_share = ops.exp(ops.logsumexp(pos_for_neg, axis=-1) - all_loss)
    neg_loss = all_loss + ops.log(ops.clip(1 - pos_share, 1e-7, 1))
    return pos_loss + neg_loss
