"""`generate`: batched greedy / sampling / beam search over a KV-cached decoder.

The whole loop is written with `keras.ops` (`while_loop`, static shapes), so on JAX it
is compiled once per configuration with `jax.jit`; on PyTorch and TensorFlow the same
code runs eagerly. Weights enter the compiled function as arguments through a
`keras.StatelessScope`, never as baked-in constants.

Beam search follows the algorithm of HuggingFace `transformers` 5.x exactly: 2·K
candidates per step, finished hypotheses scored by sum_logprob / length**length_penalty,
and its early-stop heuristic, so token sequences match `model.generate(num_beams=K)`.
"""
import keras
import numpy as np
from keras import ops

from . import sampling
from .decoders import decoder_for, map_state

BEAM_NEG = -1.0e9  # the constant HF uses to retire beams


# ---------------------------------------------------------------------- inputs
def _check(inputs, max_new_tokens, min_new_tokens, num_beams, do_sample, **sampling_args):
    if inputs is None or len(inputs) == 0:
        raise ValueError("inputs is an empty batch: pass at least one prompt")
    if int(max_new_tokens) < 1:
        raise ValueError(f"max_new_tokens must be ≥ 1, got {max_new_tokens!r}")
    if not 0 <= int(min_new_tokens) <= int(max_new_tokens):
        raise ValueError(f"min_new_tokens must be in [0, max_new_tokens], got {min_new_tokens!r}")
    if int(num_beams) < 1:
        raise ValueError(f"num_beams must be ≥ 1, got {num_beams!r}")
    if num_beams > 1 and do_sample:
        raise ValueError("beam search with sampling is not supported: set do_sample=False or num_beams=1")
    sampling.check_sampling_args(**sampling_args)


# ---------------------------------------------------------------------- compilation
class _Runner:
    """Runs a pure function of (weights, *args) statelessly; jit-compiled on JAX."""

    def __init__(self, variables):
        self.variables = list(variables)
        self.compiled = {}

    def __call__(self, key, fn, *args):
        values = [ops.stop_gradient(v.value) for v in self.variables]
        if keras.backend.backend() == "jax":
            if key not in self.compiled:
                import jax  # the only backend-specific line: compile the loop on JAX

                self.compiled[key] = jax.jit(self._pure(fn))
            return self.compiled[key](values, *args)
        return self._pure(fn)(values, *args)

    def _pure(self, fn):
        variables = self.variables

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)

        return pure


def _runner(decoder):
    if not hasattr(decoder.model, "_generation_runner"):
        decoder.model._generation_runner = _Runner(decoder.variables)
    return decoder.model._generation_runner


# ---------------------------------------------------------------------- token choice
def _stop_mask(tokens, stop_ids):
    if not stop_ids:
        return ops.zeros(ops.shape(tokens), dtype="bool")
    return ops.any(ops.expand_dims(tokens, -1) == ops.array(stop_ids, dtype=tokens.dtype), axis=-1)


class _Sampler:
    """Greedy or random choice of the next token from processed logits."""

    def __init__(self, config, seed):
        self.config = config
        self.seed = keras.random.SeedGenerator(seed)

    def adjust(self, logits, seen, t):
        c = self.config
        logits = ops.cast(logits, "float32")
        if c["repetition_penalty"] != 1:
            logits = sampling.apply_repetition_penalty(logits, seen, c["repetition_penalty"])
        if c["min_new_tokens"] > 0 and c["stop_ids"]:
            logits = sampling.suppress(logits, c["stop_ids"], t < c["min_new_tokens"])
        return logits

    def choose(self, logits, seed_state):
        c = self.config
        if not c["do_sample"]:
            return ops.cast(ops.argmax(logits, axis=-1), "int32"), seed_state
        logits = sampling.process_logits(logits, c["temperature"], c["top_k"], c["top_p"])
        with keras.StatelessScope(state_mapping=[(self.seed.state, seed_state)]) as scope:
            tokens = keras.random.categorical(logits, 1, seed=self.seed)[:, 0]
            seed_state = scope.get_current_value(self.seed.state)
        return ops.cast(tokens, "int32"), seed_state


def _sample_body(decoder, sampler, offset, max_new):
    """One greedy/sampling step: choose tokens from `logits`, then run the decoder on them."""
    c = sampler.config

    def body(t, out, finished, logits, state, seen, seed_state):
        logits = sampler.adjust(logits, seen, t)
        tokens, seed_state = sampler.choose(logits, seed_state)
        tokens = ops.where(finished, c["pad_id"], tokens)
        out = ops.where(ops.arange(max_new)[None, :] == t, tokens[:, None], out)
        finished = ops.logical_or(finished, _stop_mask(tokens, c["stop_ids"]))
        if c["repetition_penalty"] != 1:
            seen = sampling.mark_seen(seen, tokens[:, None])
        logits, state = decoder.step(state, tokens, offset + t)
        return t + 1, out, finished, logits, state, seen, seed_state

    return body


# ---------------------------------------------------------------------- beam search
def _beam_body(decoder, config, offset, batch, beams, max_new, vocab):
    lp, early = config["length_penalty"], config["early_stopping"]
    top_mask = ops.arange(2 * beams) < beams  # only the K best candidates may finish

    def gather(x, index):  # x (B, M, ...) rows picked by index (B, K')
        idx = index
        while len(idx.shape) < len(x.shape):
            idx = ops.expand_dims(idx, -1)
        return ops.take_along_axis(x, ops.broadcast_to(idx, idx.shape[:2] + x.shape[2:]), axis=1)

    def body(t, run_seq, run_scores, fin_seq, fin_scores, is_fin, unsatisfied, done, logits, state, seen):
        logits = ops.cast(logits, "float32")
        log_probs = ops.log_softmax(logits, axis=-1)
        if config["repetition_penalty"] != 1:
            log_probs = sampling.apply_repetition_penalty(log_probs, seen, config["repetition_penalty"])
        if config["min_new_tokens"] > 0 and config["stop_ids"]:
            log_probs = sampling.suppress(log_probs, config["stop_ids"], t < config["min_new_tokens"])
        total = ops.reshape(log_probs, (batch, beams, vocab)) + run_scores[:, :, None]
        top_scores, top_index = ops.top_k(ops.reshape(total, (batch, beams * vocab)), 2 * beams)
        source = top_index // vocab  # (B, 2K) beam each candidate extends
        tokens = ops.cast(top_index % vocab, "int32")
        candidates = gather(run_seq, source)  # (B, 2K, N)
        candidates = ops.where(ops.arange(max_new)[None, None, :] == t, tokens[:, :, None], candidates)
        hits = ops.logical_or(_stop_mask(tokens, config["stop_ids"]), t + 1 >= max_new)  # (B, 2K)

        # beams that keep running: the K best candidates that did not stop
        running = top_scores + ops.cast(hits, "float32") * BEAM_NEG
        run_scores, keep = ops.top_k(running, beams)
        run_seq = gather(candidates, keep)
        parents = gather(source, keep) + ops.arange(batch)[:, None] * beams  # (B, K) flat rows

        # finished hypotheses: merge the newly stopped among the K best with the old ones
        length = ops.cast(t + 1, "float32")
        scores = top_scores / length ** lp
        newly = ops.logical_and(hits, top_mask[None, :])
        full = ops.logical_and(ops.all(is_fin, axis=1, keepdims=True), early is True)
        scores = scores + ops.cast(full, "float32") * BEAM_NEG
        scores = scores + ops.cast(ops.logical_not(unsatisfied), "float32")[:, None] * BEAM_NEG
        scores = scores + ops.cast(ops.logical_not(newly), "float32") * BEAM_NEG
        merged_scores = ops.concatenate([fin_scores, scores], axis=1)
        fin_scores, pick = ops.top_k(merged_scores, beams)
        fin_seq = gather(ops.concatenate([fin_seq, candidates], axis=1), pick)
        is_fin = gather(ops.concatenate([is_fin, newly], axis=1), pick)

        # advance the decoder on the surviving beams
        flat_parents = ops.reshape(parents, (-1,))
        state = map_state(lambda x: ops.take(x, flat_parents, axis=0), state)
        next_tokens = ops.reshape(run_seq[:, :, t], (-1,))  # written at position t above
        if config["repetition_penalty"] != 1:
            seen = sampling.mark_seen(ops.take(seen, flat_parents, axis=0), next_tokens[:, None])
        logits, state = decoder.step(state, next_tokens, offset + t)

        t = t + 1
        best_possible = run_scores[:, :1] / ops.cast(t, "float32") ** lp
        worst = ops.where(is_fin, ops.min(fin_scores, axis=1, keepdims=True), BEAM_NEG)
        unsatisfied = ops.logical_and(unsatisfied, ops.any(best_possible > worst, axis=1))
        done = ops.logical_not(ops.any(unsatisfied))
        if early is True:
            done = ops.logical_or(done, ops.all(is_fin))
        done = ops.logical_or(done, ops.all(hits))
        return t, run_seq, run_scores, fin_seq, fin_scores, is_fin, unsatisfied, done, logits, state, seen

    return body


# ---------------------------------------------------------------------- entry point
def generate(model, inputs, max_new_tokens=32, min_new_tokens=0, num_beams=1, do_sample=False,
             temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, length_penalty=1.0,
             early_stopping=False, stop_ids=None, pad_id=0, seed=None, stream=False):
    """Generate continuations with a KV cache.

    model: a built kerasformers model object (`build_transformer_model(...,
        return_keras_model=False)`): GPT, GPT-2, GPT2_ML, T5, or a BERT-family model with
        application='lm' / 'unilm' and with_mlm=True.
    inputs: prompts (decoder-only) or source sequences (T5) — a list of id lists of any
        lengths (left-padded internally; T5 sources are right-padded with 0) or a 2-D array.
    stop_ids: token ids that end a sequence (e.g. [eos_id]); later positions get `pad_id`.
    Greedy by default; `do_sample=True` samples with temperature / top_k / top_p;
    `num_beams > 1` runs beam search (length_penalty, early_stopping as in HuggingFace).
    stream=True (greedy/sampling only) returns an iterator of (B,) token arrays, one per step.

    Returns the new tokens as an int array (B, T ≤ max_new_tokens), padded with `pad_id`
    after each row's stop id.
    """
    stop_ids = [] if stop_ids is None else [int(i) for i in np.atleast_1d(stop_ids)]
    _check(inputs, max_new_tokens, min_new_tokens, num_beams, do_sample, temperature=temperature,
           top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)
    if stream and num_beams > 1:
        raise ValueError("stream=True works with greedy decoding or sampling, not beam search")
    config = dict(max_new_tokens=int(max_new_tokens), min_new_tokens=int(min_new_tokens),
                  do_sample=bool(do_sample), temperature=float(temperature), top_k=top_k, top_p=top_p,
                  repetition_penalty=float(repetition_penalty), length_penalty=float(length_penalty),
                  early_stopping=early_stopping, stop_ids=tuple(stop_ids), pad_id=int(pad_id),
                  num_beams=int(num_beams))
    decoder = decoder_for(model)
    ids, valid = decoder.prepare_inputs(inputs, pad_id)
    decoder.check_length(ids.shape[1], config["max_new_tokens"])
    runner = _runner(decoder)
    key = tuple(sorted((k, str(v)) for k, v in config.items())) + (ids.shape,)
    if stream:
        return _stream(decoder, runner, key, config, ids, valid, seed)
    if num_beams > 1:
        fn = lambda i, v: _beam_search(decoder, config, i, v)  # noqa: E731
        out = runner(("beam",) + key, fn, ids, valid)
    else:
        sampler = _Sampler(config, seed)
        fn = lambda i, v, s: _sample_loop(decoder, sampler, config, i, v, s)  # noqa: E731
        out = runner(("sample",) + key, fn, ids, valid, sampler.seed.state.value)
    return _trim(ops.convert_to_numpy(out), stop_ids, pad_id)


def _trim(out, stop_ids, pad_id):
    """Drop trailing columns past every row's end (rows end at their first stop id)."""
    out = np.asarray(out)
    lengths = np.full(len(out), out.shape[1])
    for stop in stop_ids:
        hit = out == stop
        first = np.where(hit.any(1), hit.argmax(1) + 1, out.shape[1])
        lengths = np.minimum(lengths, first)
    return out[:, : max(int(lengths.max()), 1)]


def _prefill(decoder, config, ids, valid):
    total = ids.shape[1] + config["max_new_tokens"]
    logits, state = decoder.prefill(ids, valid, total)
    seen = None
    if config["repetition_penalty"] != 1:
        tokens, token_valid = decoder.context_tokens(ids, valid)
        seen = sampling.mark_seen(ops.zeros((ids.shape[0], logits.shape[-1]), dtype="bool"),
                                  tokens, token_valid)
    return logits, state, decoder.first_step_index(ids.shape[1]), seen


def _sample_loop(decoder, sampler, config, ids, valid, seed_state):
    logits, state, offset, seen = _prefill(decoder, config, ids, valid)
    batch, max_new = ids.shape[0], config["max_new_tokens"]
    body = _sample_body(decoder, sampler, offset, max_new)
    out = ops.full((batch, max_new), config["pad_id"], dtype="int32")
    finished = ops.zeros((batch,), dtype="bool")
    seen = ops.zeros((batch, 1), dtype="bool") if seen is None else seen

    def cond(t, out, finished, *rest):
        return ops.logical_and(t < max_new, ops.logical_not(ops.all(finished)))

    loop = (ops.convert_to_tensor(0, "int32"), out, finished, logits, state, seen, seed_state)
    return ops.while_loop(cond, body, loop)[1]


def _beam_search(decoder, config, ids, valid):
    logits, state, offset, seen = _prefill(decoder, config, ids, valid)
    batch, beams, max_new = ids.shape[0], config["num_beams"], config["max_new_tokens"]
    vocab = logits.shape[-1]
    repeat = lambda x: ops.repeat(x, beams, axis=0)  # noqa: E731
    state, logits = map_state(repeat, state), repeat(logits)
    seen = ops.zeros((batch * beams, 1), dtype="bool") if seen is None else repeat(seen)
    pad = config["pad_id"]
    run_seq = ops.full((batch, beams, max_new), pad, dtype="int32")
    run_scores = ops.where(ops.arange(beams)[None, :] == 0, 0.0, BEAM_NEG) * ops.ones((batch, 1))
    fin_seq = ops.full((batch, beams, max_new), pad, dtype="int32")
    fin_scores = ops.full((batch, beams), BEAM_NEG, dtype="float32")
    is_fin = ops.zeros((batch, beams), dtype="bool")
    unsatisfied = ops.ones((batch,), dtype="bool")
    body = _beam_body(decoder, config, offset, batch, beams, max_new, vocab)

    def cond(t, *rest):
        return ops.logical_and(t < max_new, ops.logical_not(rest[6]))

    loop = (ops.convert_to_tensor(0, "int32"), run_seq, ops.cast(run_scores, "float32"), fin_seq, fin_scores,
            is_fin, unsatisfied, ops.convert_to_tensor(False), logits, state, seen)
    return ops.while_loop(cond, body, loop)[3][:, 0]


def _stream(decoder, runner, key, config, ids, valid, seed):
    """Yield (B,) tokens step by step; each step is one compiled call on JAX."""
    sampler = _Sampler(config, seed)
    max_new = config["max_new_tokens"]

    def start(i, v):
        logits, state, offset, seen = _prefill(decoder, config, i, v)
        if seen is None:
            seen = ops.zeros((i.shape[0], 1), dtype="bool")
        return logits, state, seen

    def one_step(t, out, finished, logits, state, seen, seed_state):
        offset = decoder.first_step_index(ids.shape[1])
        return _sample_body(decoder, sampler, offset, max_new)(t, out, finished, logits, state, seen, seed_state)

    logits, state, seen = runner(("stream-start",) + key, start, ids, valid)
    out = ops.full((ids.shape[0], max_new), config["pad_id"], dtype="int32")
    finished = ops.zeros((ids.shape[0],), dtype="bool")
    seed_state = sampler.seed.state.value
    t = ops.convert_to_tensor(0, "int32")
    for step in range(max_new):
        t, out, finished, logits, state, seen, seed_state = runner(
            ("stream-step",) + key, one_step, t, out, finished, logits, state, seen, seed_state)
        yield ops.convert_to_numpy(out)[:, step]
        if bool(np.all(ops.convert_to_numpy(finished))):
            return
