"""bert4keras's `AutoRegressiveDecoder`, kept API-compatible.

Users subclass it, decorate `predict` with `@AutoRegressiveDecoder.wraps(...)` and call
`beam_search` / `random_sample`. The loop runs in NumPy on the host: `predict` receives the
whole prefix each step (that is the bert4keras contract). Subclasses that want a cache can
return per-row `states` (arrays whose first axis is the row axis); the decoder keeps them
aligned with the surviving rows, so a `predict` may store keys/values there. For fast,
compiled decoding of kerasformers models use `kerasformers.generation.generate`.
"""

import functools

import keras
import numpy as np


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _reorder_states(states, rows, num_rows):
    """Index every per-row array inside `states` (nested lists/tuples/dicts) by `rows`.

    Arrays are per-row when their first axis has `num_rows` entries; everything else
    (scalars, shared tensors) is passed through unchanged.
    """
    if states is None:
        return None
    if isinstance(states, dict):
        return {k: _reorder_states(v, rows, num_rows) for k, v in states.items()}
    if isinstance(states, (list, tuple)):
        return type(states)(_reorder_states(s, rows, num_rows) for s in states)
    array = np.asarray(states)
    if array.ndim >= 1 and array.shape[0] == num_rows:
        return array[rows]
    return states


class AutoRegressiveDecoder:
    """Base class for autoregressive decoding with beam search and random sampling.

    Args:
        start_id: id placed before the output (None: the output starts empty).
        end_id: id that ends a sequence.
        maxlen: maximum number of decoding steps.
        minlen: minimum output length before an end id may finish a sequence.
    """

    def __init__(self, start_id, end_id, maxlen, minlen=1):
        if maxlen is None or int(maxlen) < 1:
            raise ValueError(f"maxlen must be a positive integer, got {maxlen!r}")
        self.start_id = start_id
        self.end_id = end_id
        self.maxlen = int(maxlen)
        self.minlen = int(minlen)
        self.models = {}
        if start_id is None:
            self.first_output_ids = np.empty((1, 0), dtype="int32")
        else:
            self.first_output_ids = np.array([[start_id]], dtype="int32")

    @staticmethod
    def wraps(default_rtype="probas", use_states=False):
        """Decorate a subclass's `predict(self, inputs, output_ids, states)`.

        The decorated predict takes `(inputs, output_ids, states, temperature=1,
        rtype=default_rtype)` and returns `(scores, states)`: probabilities for
        rtype='probas', log-probabilities for rtype='logits'. `default_rtype` says what
        the user's predict returns (probabilities or unnormalised logits); `use_states`
        says whether it returns `(output, states)` instead of just `output`.
        """
        if default_rtype not in ("probas", "logits"):
            raise ValueError(f"default_rtype must be 'probas' or 'logits', got {default_rtype!r}")

        def decorator(predict):
            @functools.wraps(predict)
            def wrapped(self, inputs, output_ids, states, temperature=1, rtype=default_rtype):
                if rtype not in ("probas", "logits"):
                    raise ValueError(f"rtype must be 'probas' or 'logits', got {rtype!r}")
                result = predict(self, inputs, output_ids, states)
                scores, states = result if use_states else (result, None)
                scores = np.asarray(keras.ops.convert_to_numpy(scores), dtype="float64")
                if default_rtype == "logits":
                    probas = _softmax(scores / temperature)
                elif temperature != 1:
                    probas = np.power(scores, 1.0 / temperature)
                    probas = probas / probas.sum(axis=-1, keepdims=True)
                else:
                    probas = scores
                if rtype == "probas":
                    return probas, states
                return np.log(probas + 1e-12), states

            return wrapped

        return decorator

    def last_token(self, model):
        """A model with the same inputs that outputs only the last position."""
        if model not in self.models:
            outputs = [output[:, -1] for output in model.outputs]
            outputs = outputs[0] if len(outputs) == 1 else outputs
            self.models[model] = keras.Model(model.input, outputs)
        return self.models[model]

    def predict(self, inputs, output_ids, states=None):
        """Return the next-token distribution for every row of `output_ids`."""
        raise NotImplementedError("subclass AutoRegressiveDecoder and implement predict")

    def _end_flags(self, output_ids, min_ends):
        """(rows ending with end_id after enough end ids, end_id counts)."""
        end_counts = (output_ids == self.end_id).sum(axis=1)
        ended = (output_ids[:, -1] == self.end_id) & (end_counts >= min_ends)
        return ended, end_counts

    def beam_search(self, inputs, topk, states=None, temperature=1, min_ends=1):
        """Beam search for one input; returns the best id sequence (1-D array).

        `topk` is the beam size. Finished beams leave the beam (which then shrinks); the
        search stops as soon as the best-scoring beam is finished.
        """
        if int(topk) <= 0:
            raise ValueError(f"topk (the beam size) must be positive, got {topk!r}")
        topk = int(topk)
        inputs = [np.array([x]) for x in inputs]
        output_ids, output_scores = self.first_output_ids, np.zeros(1)
        for _ in range(self.maxlen):
            scores, states = self.predict(inputs, output_ids, states, temperature, "logits")
            num_rows, vocab = scores.shape
            scores = output_scores[:, None] + scores  # (rows, vocab) total log-prob
            k = min(topk, scores.size)
            flat = np.argpartition(scores, -k, axis=None)[-k:]
            rows, tokens = flat // vocab, flat % vocab
            output_ids = np.concatenate([output_ids[rows], tokens[:, None]], axis=1)
            output_scores = scores.reshape(-1)[flat]
            inputs = [x[rows] for x in inputs]  # step 0 fans the single input out
            states = _reorder_states(states, rows, num_rows)
            if output_ids.shape[1] < self.minlen:
                continue
            ended, _ = self._end_flags(output_ids, min_ends)
            best = output_scores.argmax()
            if ended[best]:
                return output_ids[best]
            if ended.any():
                keep = ~ended
                inputs = [x[keep] for x in inputs]
                states = _reorder_states(states, np.flatnonzero(keep), len(keep))
                output_ids, output_scores = output_ids[keep], output_scores[keep]
                topk = int(keep.sum())
        return output_ids[output_scores.argmax()]

    def random_sample(self, inputs, n, topk=None, topp=None, states=None, temperature=1, min_ends=1):
        """Draw `n` sequences for one input; returns a list of 1-D id arrays.

        topk: sample only among the k most probable tokens; topp: only among the most
        probable tokens whose probabilities first add up to at least topp (nucleus).
        Uses NumPy's global random state (seed it with `np.random.seed`).
        """
        if topk is not None and int(topk) <= 0:
            raise ValueError(f"topk must be a positive integer or None, got {topk!r}")
        if topp is not None and not 0 < topp <= 1:
            raise ValueError(f"topp must be in (0, 1] or None, got {topp!r}")
        if int(n) <= 0:
            raise ValueError(f"n (number of samples) must be positive, got {n!r}")
        inputs = [np.array([x]) for x in inputs]
        output_ids = self.first_output_ids
        results = []
        for step in range(self.maxlen):
            probas, states = self.predict(inputs, output_ids, states, temperature, "probas")
            probas = probas / probas.sum(axis=1, keepdims=True)
            if step == 0:
                probas = np.repeat(probas, n, axis=0)
                inputs = [np.repeat(x, n, axis=0) for x in inputs]
                output_ids = np.repeat(output_ids, n, axis=0)
                states = _reorder_states(states, np.zeros(n, dtype=int), 1)
            candidates = np.broadcast_to(np.arange(probas.shape[1]), probas.shape)
            if topk is not None:
                k = min(int(topk), probas.shape[1])
                order = np.argsort(-probas, axis=1, kind="stable")[:, :k]
                candidates = order
                probas = np.take_along_axis(probas, order, axis=1)
            if topp is not None:
                order = np.argsort(-probas, axis=1, kind="stable")
                candidates = np.take_along_axis(candidates, order, axis=1)
                probas = np.take_along_axis(probas, order, axis=1)
                mass_before = np.cumsum(probas, axis=1) - probas
                probas = np.where(mass_before < topp * probas.sum(1, keepdims=True), probas, 0)
            probas = probas / probas.sum(axis=1, keepdims=True)
            picks = np.array([np.random.choice(len(p), p=p) for p in probas])
            tokens = np.take_along_axis(candidates, picks[:, None], axis=1)
            output_ids = np.concatenate([output_ids, tokens], axis=1)
            if output_ids.shape[1] < self.minlen:
                continue
            ended, _ = self._end_flags(output_ids, min_ends)
            if ended.any():
                results.extend(output_ids[ended])
                keep = ~ended
                inputs = [x[keep] for x in inputs]
                states = _reorder_states(states, np.flatnonzero(keep), len(keep))
                output_ids = output_ids[keep]
                if len(output_ids) == 0:
                    break
        results.extend(output_ids)
        return results
