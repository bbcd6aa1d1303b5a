"""Integrated gradients over the token-embedding output (JAX, TensorFlow and PyTorch).

bert4keras's integrated-gradients example builds a Keras 2 layer around ``K.gradients`` of the
chosen class probability with respect to the output of ``Embedding-Token``, then rescales the
embedding matrix from 0 to its value to walk the path. Keras 3 has no symbolic gradients, so this
is the replacement:

    attributions = integrated_gradients(model, [token_ids, segment_ids])  # (batch, seq, dim)
    scores = attributions.sum(-1)  # one signed score per token (or a norm over the last axis)

For each row, with h the token-embedding output and p the probability of the row's label (the
predicted class unless ``labels`` is given), the attribution is the path integral of Sundararajan
et al. (2017) from the all-zero baseline (every token embedding zero, as bert4keras's example),
by the midpoint rule over ``steps`` points:

    IG(h) = h · (1/steps) Σ_k ∂p/∂h at α_k·h,    α_k = (k + ½) / steps

Summed over tokens and dimensions it approaches p(x) − p(baseline) (completeness). Segment and
position embeddings are not scaled, as in the example.
"""

import keras
import numpy as np
from keras import ops

from .adversarial import _find_layer, _value_and_grad


class _EmbeddingHook:
    """Make the layer return ``alpha * output + offset`` (``offset``: where gradients are taken)."""

    def __init__(self, layer):
        self.layer, self.original = layer, layer.call
        self.alpha = self.offset = self.output = None
        self.calls = 0

    def __enter__(self):
        def call(inputs, *args, **kwargs):
            output = self.original(inputs, *args, **kwargs)
            if (args[0] if args else kwargs.get("mode", "embedding")) != "embedding":
                return output  # a tied output projection (mode='dense'), not the input embedding
            self.calls += 1
            if self.calls > 1:
                raise ValueError(
                    f"integrated_gradients: layer {self.layer.name!r} embeds more than one input "
                    "in this model (e.g. encoder and decoder tokens); attribute a model that embeds one"
                )
            self.output = output
            if self.alpha is None:
                return output
            return output * ops.cast(self.alpha, output.dtype) + self.offset

        object.__setattr__(self.layer, "call", call)  # not tracked: removed again on exit
        return self

    def __exit__(self, *exc):
        object.__delattr__(self.layer, "call")

    def reset(self, alpha=None, offset=None):
        self.alpha, self.offset, self.calls = alpha, offset, 0


def _first(outputs):
    return keras.tree.flatten(outputs)[0]


def _target(outputs, labels):
    """Sum over rows of each row's output at its label: rows don't interact, so ∂/∂h is per row."""
    probs = _first(outputs)
    if len(probs.shape) != 2:
        raise ValueError(
            "integrated_gradients: the model's output must be (batch, classes), "
            f"got shape {tuple(probs.shape)}"
        )
    picked = ops.take_along_axis(probs, ops.expand_dims(ops.cast(labels, "int32"), -1), axis=1)
    return ops.sum(ops.cast(picked, "float32"))


def _gradient_function(model, hook):
    """(inputs, labels, alpha, offset) -> ∂ target / ∂ offset, on the current backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def target(offset, trainable, non_trainable, inputs, labels, alpha):
            hook.reset(alpha, offset)
            outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=False)
            return _target(outputs, labels)

        grad = jax.jit(jax.grad(target))

        def gradient(inputs, labels, alpha, offset):
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            return grad(offset, trainable, non_trainable, inputs, labels, np.float32(alpha))

        return gradient
    if backend in ("tensorflow", "torch"):

        def gradient(inputs, labels, alpha, offset):
            def target(offset):
                hook.reset(alpha, offset)
                return _target(model(inputs, training=False), labels)

            return _value_and_grad(target, offset)[1]

        return gradient
    raise NotImplementedError(f"integrated_gradients: backend {backend!r} is not supported")


def integrated_gradients(
    model, inputs, labels=None, embedding_name="Embedding-Token", steps=20, batch_size=32
):
    """Integrated gradients of each row's class probability w.r.t. the token-embedding output.

    Args:
        model: a Keras model whose (first) output is (batch, classes), e.g. probabilities.
        inputs: what ``model.predict`` takes (NumPy arrays, e.g. ``[token_ids, segment_ids]``).
        labels: the class to explain per row (default: the predicted class).
        embedding_name: the embedding layer whose output is attributed.
        steps: points of the midpoint rule along the path from the zero baseline.
        batch_size: rows per gradient call (the last chunk is padded, so JAX compiles once).

    Returns:
        ``(attributions, labels)``: a float32 NumPy array shaped like the embedding output
        (batch, seq, dim), and the labels explained.
    """
    layer = _find_layer(model, embedding_name)
    inputs = keras.tree.map_structure(np.asarray, inputs)
    rows = len(keras.tree.flatten(inputs)[0])
    if labels is None:
        labels = _first(model.predict(inputs, batch_size=batch_size, verbose=0)).argmax(-1)
    labels = np.asarray(labels, "int32").reshape(rows)
    alphas = (np.arange(steps, dtype="float32") + 0.5) / steps
    chunks = []
    with _EmbeddingHook(layer) as hook:
        gradient = _gradient_function(model, hook)
        for start in range(0, rows, batch_size):
            index = np.arange(start, start + batch_size).clip(max=rows - 1)  # pad with the last row
            chunk = keras.tree.map_structure(lambda a, i=index: ops.convert_to_tensor(a[i]), inputs)
            chunk_labels = ops.convert_to_tensor(labels[index])
            hook.reset()
            model(chunk, training=False)
            embedded = ops.stop_gradient(hook.output)
            offset = ops.zeros_like(embedded)
            total = np.zeros(tuple(embedded.shape), "float32")
            for alpha in alphas:
                total += ops.convert_to_numpy(gradient(chunk, chunk_labels, alpha, offset))
            attributions = ops.convert_to_numpy(embedded) * total / steps
            chunks.append(attributions[: min(batch_size, rows - start)])
    return np.concatenate(chunks), labels
