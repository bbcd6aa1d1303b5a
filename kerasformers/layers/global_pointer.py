"""GlobalPointer heads: score every span (start, end) per entity type at once.

Each head projects tokens to a query q and key k, rotates both with RoPE so
the score q_m·k_n depends on the relative offset n - m, and reads span [m, n]
from the (T, T) score grid. Spans with m > n or touching padding get a huge
negative score. Train with ``global_pointer_crossentropy`` (multilabel CE
over the flattened grid); nested and overlapping entities come for free.
"""

import keras
from keras import ops

from ..losses import multilabel_categorical_crossentropy
from ..numerics import NEG_INF
from .core import fresh_initializer
from .rotary import apply_rotary, sinusoidal_embeddings


def _rope(x, head_size):
    """Rotate x (B, T, [H,] d) by its position along axis 1."""
    table = sinusoidal_embeddings(ops.arange(ops.shape(x)[1]), head_size)  # (T, d)
    if len(x.shape) == 4:
        table = table[:, None, :]  # broadcast over heads
    return apply_rotary(table, x)


def _mask_grid(logits, mask, tril_mask):
    """logits (B, H, T, T): kill padded rows/columns and (optionally) spans with start > end."""
    if mask is not None:
        mask = ops.cast(mask, logits.dtype)
        valid = mask[:, None, :, None] * mask[:, None, None, :]  # (B, 1, T, T)
        logits = logits - (1 - valid) * -NEG_INF
    if tril_mask:
        steps = ops.arange(ops.shape(logits)[-1])
        start_after_end = ops.cast(steps[:, None] > steps[None, :], logits.dtype)  # (T, T)
        logits = logits - start_after_end * -NEG_INF
    return logits


@keras.saving.register_keras_serializable(package="kerasformers")
class GlobalPointer(keras.layers.Layer):
    """(B, T, D) → (B, heads, T, T) span scores; one head per entity type / relation."""

    def __init__(
        self,
        heads,
        head_size,
        RoPE=True,
        use_bias=True,
        tril_mask=True,
        kernel_initializer="lecun_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if head_size % 2 and RoPE:
            raise ValueError(f"GlobalPointer: head_size must be even for RoPE, got {head_size}")
        self.heads = heads
        self.head_size = head_size
        self.RoPE = RoPE
        self.use_bias = use_bias
        self.tril_mask = tril_mask
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True
        self._build_dense_layers()

    def _build_dense_layers(self):
        # Per head h, channels [2hd, 2hd + d) are q and [2hd + d, 2(h+1)d) are k.
        self.dense = keras.layers.Dense(
            self.heads * self.head_size * 2,
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="dense",
        )

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs, mask=None):
        x = self.dense(inputs)  # (B, T, H * 2d)
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.heads, 2 * self.head_size))
        q, k = x[..., : self.head_size], x[..., self.head_size :]  # (B, T, H, d) each
        if self.RoPE:
            q, k = _rope(q, self.head_size), _rope(k, self.head_size)
        logits = ops.einsum("bmhd,bnhd->bhmn", q, k) / self.head_size**0.5
        return _mask_grid(logits, mask, self.tril_mask)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.heads, input_shape[1], input_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "head_size": self.head_size,
            "RoPE": self.RoPE,
            "use_bias": self.use_bias,
            "tril_mask": self.tril_mask,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="kerasformers")
class EfficientGlobalPointer(GlobalPointer):
    """GlobalPointer with one shared q/k projection plus per-head start/end biases.

    score_h(m, n) = q_m·k_n / sqrt(d) + (b_h^end(n) + b_h^start(m)) / 2, where
    the biases are a dense map of the projected tokens: far fewer parameters
    when there are many heads.
    """

    def _build_dense_layers(self):
        # p: interleaved (q, k) channels [q0, k0, q1, k1, ...];
        # q: interleaved per-head biases [end_0, start_0, end_1, start_1, ...].
        self.p_dense = keras.layers.Dense(
            self.head_size * 2,
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="p_dense",
        )
        self.q_dense = keras.layers.Dense(
            self.heads * 2,
            use_bias=self.use_bias,
            kernel_initializer=fresh_initializer(self.kernel_initializer),
            name="q_dense",
        )

    def build(self, input_shape):
        self.p_dense.build(input_shape)
        self.q_dense.build(tuple(input_shape[:-1]) + (self.head_size * 2,))

    def call(self, inputs, mask=None):
        x = self.p_dense(inputs)  # (B, T, 2d)
        q, k = x[..., 0::2], x[..., 1::2]  # (B, T, d)
        if self.RoPE:
            q, k = _rope(q, self.head_size), _rope(k, self.head_size)
        logits = ops.einsum("bmd,bnd->bmn", q, k) / self.head_size**0.5  # (B, T, T)
        bias = ops.transpose(self.q_dense(x), (0, 2, 1)) / 2  # (B, 2H, T)
        logits = logits[:, None] + bias[:, 0::2, None, :] + bias[:, 1::2, :, None]  # (B, H, T, T)
        return _mask_grid(logits, mask, self.tril_mask)


def global_pointer_crossentropy(y_true, y_pred):
    """Multilabel CE over each head's flattened (T*T) grid, averaged over batch × heads.

    y_true: (B, H, T, T) 0/1 span labels; y_pred: GlobalPointer output.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    shape = ops.shape(y_pred)
    flat = (shape[0] * shape[1], shape[2] * shape[3])
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), flat)
    return ops.mean(multilabel_categorical_crossentropy(y_true, ops.reshape(y_pred, flat)))


def global_pointer_f1_score(y_true, y_pred):
    """Span-level F1 with threshold 0 (the decision rule the loss trains for)."""
    y_pred = ops.convert_to_tensor(y_pred)
    predicted = ops.cast(ops.greater(y_pred, 0), y_pred.dtype)
    y_true = ops.cast(y_true, y_pred.dtype)
    return 2 * ops.sum(y_true * predicted) / ops.maximum(ops.sum(y_true + predicted), 1e-9)
