"""Sequence-labelling heads with learned label transitions: CRF and MEMM.

Both layers pass the emission scores through (padded steps are set to a huge
negative value, which is how the losses and metrics find the mask) and own a
(labels, labels) transition matrix ``trans``: ``trans[i, j]`` scores label i
followed by label j. Use the bound methods as Keras loss / metric:

    crf = ConditionalRandomField(lr_multiplier=100)
    scores = crf(dense(hidden))                       # (batch, seq, labels)
    model.compile(loss=crf.sparse_loss, metrics=[crf.sparse_accuracy])
    path = ViterbiDecoder(ops.convert_to_numpy(crf.trans)).decode(scores[0])

``lr_multiplier`` makes the transitions learn faster than the encoder: the
variable stores trans / m and ``trans`` multiplies back, so every gradient
step on the variable moves ``trans`` m times as far (m^2 for plain SGD).
"""

import keras
from keras import ops

from ..numerics import NEG_INF

_MASK_THRESHOLD = -1e6


def _mask_scores(scores, mask):
    """(B, T, K) scores, (B, T) mask → scores with padded steps set to NEG_INF."""
    if mask is None:
        return scores
    keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
    return ops.where(keep, scores, ops.cast(NEG_INF, scores.dtype))


def _step_mask(y_pred):
    """Recover the (B, T) float mask from masked emissions."""
    return ops.cast(ops.all(ops.greater(y_pred, _MASK_THRESHOLD), axis=-1), y_pred.dtype)


def _sparse_labels(y_true, y_pred):
    """Labels in any (B, T) / (B, T, 1) layout → int32 (B, T)."""
    return ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")


class _TransitionLayer(keras.layers.Layer):
    """Shared plumbing: the scaled transition variable and masking."""

    def __init__(self, lr_multiplier=1, **kwargs):
        super().__init__(**kwargs)
        self.lr_multiplier = lr_multiplier
        self.supports_masking = True

    def _add_scaled_weight(self, name, shape):
        m = self.lr_multiplier
        initializer = keras.initializers.GlorotUniform()
        if m != 1:
            # Store w / m so that trans = m * variable starts at the usual scale.
            base = initializer
            initializer = lambda shape, dtype=None: base(shape, dtype) / m  # noqa: E731
        return self.add_weight(name=name, shape=shape, initializer=initializer, trainable=True)

    def _scaled(self, variable):
        return variable * self.lr_multiplier if self.lr_multiplier != 1 else ops.convert_to_tensor(variable)

    def call(self, inputs, mask=None):
        return _mask_scores(inputs, mask)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lr_multiplier": self.lr_multiplier}


@keras.saving.register_keras_serializable(package="kerasformers")
class ConditionalRandomField(_TransitionLayer):
    """Linear-chain CRF: loss = log Z(x) - score(x, y), computed by the forward algorithm."""

    def build(self, input_shape):
        num_labels = input_shape[-1]
        self._trans = self._add_scaled_weight("trans", (num_labels, num_labels))

    @property
    def trans(self):
        return self._scaled(self._trans)

    def target_score(self, y_true, y_pred):
        """Score of the labelled path; y_true one-hot (B, T, K) with padded steps zeroed."""
        emission = ops.sum(y_true * y_pred, axis=(1, 2))  # (B,)
        trans = ops.cast(self.trans, y_pred.dtype)
        transition = ops.einsum("bti,ij,btj->b", y_true[:, :-1], trans, y_true[:, 1:])
        return emission + transition

    def log_partition(self, y_pred, mask):
        """log Z by the forward algorithm. y_pred (B, T, K); mask (B, T) float."""
        trans = ops.cast(self.trans, y_pred.dtype)[None]  # (1, K, K)

        def step(alpha, inputs):  # alpha (B, K): log-sum of paths ending in each label
            emission, keep = inputs[:, :-1], inputs[:, -1:]  # (B, K), (B, 1)
            new_alpha = ops.logsumexp(alpha[:, :, None] + trans, axis=1) + emission
            alpha = keep * new_alpha + (1 - keep) * alpha  # padded steps leave alpha alone
            return alpha, None

        alpha = y_pred[:, 0]
        if y_pred.shape[1] != 1:  # (torch's scan rejects empty sequences)
            # One (T-1, B, K+1) time-major input, emissions then the step mask: Keras's TensorFlow
            # scan fails on several inputs of unknown length (bert4keras pads each batch to its own).
            steps = ops.concatenate([y_pred[:, 1:], mask[:, 1:, None]], axis=-1)
            alpha, _ = ops.scan(step, alpha, ops.transpose(steps, (1, 0, 2)))
        return ops.logsumexp(alpha, axis=-1)  # (B,)

    def dense_loss(self, y_true, y_pred):
        """Negative log-likelihood per sequence; y_true one-hot (B, T, K)."""
        y_pred = ops.convert_to_tensor(y_pred)
        mask = _step_mask(y_pred)
        y_true = ops.cast(ops.reshape(y_true, ops.shape(y_pred)), y_pred.dtype) * mask[..., None]
        y_pred = y_pred * mask[..., None]  # padded steps: 0 instead of NEG_INF
        return self.log_partition(y_pred, mask) - self.target_score(y_true, y_pred)

    def sparse_loss(self, y_true, y_pred):
        """Negative log-likelihood per sequence; y_true label ids (B, T)."""
        y_pred = ops.convert_to_tensor(y_pred)
        labels = _sparse_labels(y_true, y_pred)
        return self.dense_loss(ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype), y_pred)

    def dense_accuracy(self, y_true, y_pred):
        return self.sparse_accuracy(ops.argmax(y_true, axis=-1), y_pred)

    def sparse_accuracy(self, y_true, y_pred):
        """Per-token accuracy of the emission argmax over unpadded steps (cheap; not Viterbi)."""
        y_pred = ops.convert_to_tensor(y_pred)
        mask = _step_mask(y_pred)
        labels = _sparse_labels(y_true, y_pred)
        hits = ops.cast(ops.equal(labels, ops.cast(ops.argmax(y_pred, axis=-1), "int32")), mask.dtype)
        return ops.sum(hits * mask) / ops.maximum(ops.sum(mask), 1)


@keras.saving.register_keras_serializable(package="kerasformers")
class MaximumEntropyMarkovModel(_TransitionLayer):
    """MEMM: per-step softmax over emissions averaged with the previous gold label's transitions.

    Trained in both directions (left-to-right with ``trans``, right-to-left
    with ``trans.T``) and averaged. ``hidden_dim`` factorises trans = L Rᵀ
    for large label sets.
    """

    def __init__(self, lr_multiplier=1, hidden_dim=None, **kwargs):
        super().__init__(lr_multiplier=lr_multiplier, **kwargs)
        self.hidden_dim = hidden_dim

    def build(self, input_shape):
        num_labels = input_shape[-1]
        if self.hidden_dim is None:
            self._trans = self._add_scaled_weight("trans", (num_labels, num_labels))
        else:
            self._l_trans = self._add_scaled_weight("l_trans", (num_labels, self.hidden_dim))
            self._r_trans = self._add_scaled_weight("r_trans", (num_labels, self.hidden_dim))

    @property
    def trans(self):
        if self.hidden_dim is None:
            return self._scaled(self._trans)
        return ops.matmul(self._scaled(self._l_trans), ops.transpose(self._scaled(self._r_trans)))

    @staticmethod
    def _reverse(x, lengths):
        """Reverse the first ``lengths[b]`` steps of each row of x (B, T, ...)."""
        steps = ops.arange(ops.shape(x)[1])[None, :]  # (1, T)
        lengths = lengths[:, None]
        index = ops.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
        index = ops.reshape(index, ops.shape(index) + (1,) * (len(x.shape) - 2))
        return ops.take_along_axis(x, ops.cast(index, "int32"), axis=1)

    def _directional(self, labels, y_pred, mask, backwards):
        """Labels (B, T) and per-step logits (B, T, K) read in one direction.

        logits[t] = (emission[t] + trans[gold label at t-1]) / 2; the first step
        has no history and keeps its emission.
        """
        trans = ops.cast(self.trans, y_pred.dtype)
        if backwards:
            lengths = ops.cast(ops.sum(mask, axis=1), "int32")
            labels = self._reverse(labels[..., None], lengths)[..., 0]
            y_pred = self._reverse(y_pred, lengths)
            trans = ops.transpose(trans)
        history = ops.take(trans, labels, axis=0)  # (B, T, K)
        history = ops.concatenate([y_pred[:, :1], history[:, :-1]], axis=1)
        return labels, (y_pred + history) / 2

    def _prepare(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        mask = _step_mask(y_pred)
        return _sparse_labels(y_true, y_pred), y_pred * mask[..., None], mask

    def sparse_loss(self, y_true, y_pred):
        """Mean token cross-entropy over unpadded steps, averaged over both directions."""
        labels, y_pred, mask = self._prepare(y_true, y_pred)
        total = 0.0
        for backwards in (False, True):
            gold, logits = self._directional(labels, y_pred, mask, backwards)
            loss = keras.losses.sparse_categorical_crossentropy(gold, logits, from_logits=True)
            total += ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1)
        return total / 2

    def dense_loss(self, y_true, y_pred):
        return self.sparse_loss(ops.argmax(y_true, axis=-1), y_pred)

    def sparse_accuracy(self, y_true, y_pred):
        labels, y_pred, mask = self._prepare(y_true, y_pred)
        total = 0.0
        for backwards in (False, True):
            gold, logits = self._directional(labels, y_pred, mask, backwards)
            hits = ops.cast(ops.equal(gold, ops.cast(ops.argmax(logits, -1), "int32")), mask.dtype)
            total += ops.sum(hits * mask) / ops.maximum(ops.sum(mask), 1)
        return total / 2

    def dense_accuracy(self, y_true, y_pred):
        return self.sparse_accuracy(ops.argmax(y_true, axis=-1), y_pred)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}
