"""`generate`: batched greedy / sampling / beam search over a KV-cached decoder.

The whole loop is written with `keras.ops` (`while_loop`, static shapes), so on JAX and
TensorFlow it is compiled once per configuration (`jax.jit`, `tf.function(jit_compile=True)`);
on PyTorch the same code runs eagerly. Weights enter the compiled function as arguments through a
`keras.StatelessScope`, never as baked-in constants.

Beam search follows the algorithm of HuggingFace `transformers` 5.x exactly: 2·K
candidates per step, finished hypotheses scored by sum_logprob / length**length_penalty,
and its early-stop heuristic, so token sequences match `model.generate(num_beams=K)`.
"""

import keras
import numpy as np
from keras import ops

from . import sampling
from .constraints import SequenceTrie
from .decoders import decoder_for, left_pad, map_state, resolve_builder
from .text import StopStrings, text_codec

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
        backend = keras.backend.backend()
        if backend == "torch":
            return self._pure(fn)(values, *args)
        if key not in self.compiled:
            if backend == "jax":
                import jax

                self.compiled[key] = jax.jit(self._pure(fn))
            else:  # one XLA program per configuration, as on JAX (eager TF ran 0.1-0.2x transformers)
                import tensorflow as tf

                self.compiled[key] = tf.function(self._pure(fn), jit_compile=True)
        return self.compiled[key](values, *args)

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


def _sample_body(decoder, sampler, offset, max_new, trie=None):
    """One greedy/sampling step: choose tokens from `logits`, then run the decoder on them.

    `node` is each row's place in the trie of allowed sequences (unused without one)."""
    c = sampler.config

    def body(t, out, finished, logits, state, seen, seed_state, node):
        logits = sampler.adjust(logits, seen, t)
        if trie is not None:
            logits = trie.restrict(logits, node, c["stop_ids"])
        tokens, seed_state = sampler.choose(logits, seed_state)
        tokens = ops.where(finished, c["pad_id"], tokens)
        out = ops.where(ops.arange(max_new)[None, :] == t, tokens[:, None], out)
        finished = ops.logical_or(finished, _stop_mask(tokens, c["stop_ids"]))
        if trie is not None:
            node = trie.advance(node, tokens)
            if not c["stop_ids"]:  # without stop ids a row ends at a leaf of the trie
                finished = ops.logical_or(finished, trie.is_leaf(node))
        if c["repetition_penalty"] != 1:
            seen = sampling.mark_seen(seen, tokens[:, None])
        logits, state = decoder.step(state, tokens, offset + t)
        return t + 1, out, finished, logits, state, seen, seed_state, node

    return body


# ---------------------------------------------------------------------- beam search
def _beam_body(decoder, config, offset, batch, beams, max_new, vocab, trie=None):
    lp, early = config["length_penalty"], config["early_stopping"]
    top_mask = ops.arange(2 * beams) < beams  # only the K best candidates may finish

    def gather(x, index):  # x (B, M, ...) rows picked by index (B, K')
        idx = index
        while len(idx.shape) < len(x.shape):
            idx = ops.expand_dims(idx, -1)
        return ops.take_along_axis(x, ops.broadcast_to(idx, idx.shape[:2] + x.shape[2:]), axis=1)

    def body(
        t, run_seq, run_scores, fin_seq, fin_scores, is_fin, unsatisfied, done, logits, state, seen, node
    ):
        logits = ops.cast(logits, "float32")
        log_probs = ops.log_softmax(logits, axis=-1)
        if config["repetition_penalty"] != 1:
            log_probs = sampling.apply_repetition_penalty(log_probs, seen, config["repetition_penalty"])
        if config["min_new_tokens"] > 0 and config["stop_ids"]:
            log_probs = sampling.suppress(log_probs, config["stop_ids"], t < config["min_new_tokens"])
        if trie is not None:
            log_probs = trie.restrict(log_probs, node, config["stop_ids"])
        total = ops.reshape(log_probs, (batch, beams, vocab)) + run_scores[:, :, None]
        top_scores, top_index = ops.top_k(ops.reshape(total, (batch, beams * vocab)), 2 * beams)
        source = top_index // vocab  # (B, 2K) beam each candidate extends
        tokens = ops.cast(top_index % vocab, "int32")
        candidates = gather(run_seq, source)  # (B, 2K, N)
        candidates = ops.where(ops.arange(max_new)[None, None, :] == t, tokens[:, :, None], candidates)
        hits = ops.logical_or(_stop_mask(tokens, config["stop_ids"]), t + 1 >= max_new)  # (B, 2K)
        if trie is not None:
            parent_nodes = gather(ops.reshape(node, (batch, beams)), source)
            nodes = ops.reshape(
                trie.advance(ops.reshape(parent_nodes, (-1,)), ops.reshape(tokens, (-1,))), (batch, 2 * beams)
            )
            if not config["stop_ids"]:
                hits = ops.logical_or(hits, ops.reshape(trie.is_leaf(ops.reshape(nodes, (-1,))), nodes.shape))

        # beams that keep running: the K best candidates that did not stop
        running = top_scores + ops.cast(hits, "float32") * BEAM_NEG
        run_scores, keep = ops.top_k(running, beams)
        run_seq = gather(candidates, keep)
        if trie is not None:
            node = ops.reshape(gather(nodes, keep), (-1,))
        parents = gather(source, keep) + ops.arange(batch)[:, None] * beams  # (B, K) flat rows

        # finished hypotheses: merge the newly stopped among the K best with the old ones
        length = ops.cast(t + 1, "float32")
        scores = top_scores / length**lp
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
        return (
            t,
            run_seq,
            run_scores,
            fin_seq,
            fin_scores,
            is_fin,
            unsatisfied,
            done,
            logits,
            state,
            seen,
            node,
        )

    return body


# ---------------------------------------------------------------------- entry point
def generate(
    model,
    inputs,
    max_new_tokens=32,
    min_new_tokens=0,
    num_beams=1,
    do_sample=False,
    temperature=1.0,
    top_k=None,
    top_p=None,
    repetition_penalty=1.0,
    length_penalty=1.0,
    early_stopping=False,
    stop_ids=None,
    pad_id=0,
    seed=None,
    stream=False,
    stop_strings=None,
    allowed_sequences=None,
    tokenizer=None,
    segment_ids=None,
):
    """Generate continuations with a KV cache.

    model: a built kerasformers model object (`build_transformer_model(...,
        return_keras_model=False)`): GPT, GPT-2, GPT2_ML, T5, or a BERT-family model with
        application='lm' / 'unilm' and with_mlm=True.
    inputs: prompts (decoder-only) or source sequences (T5) — a list of id lists of any
        lengths (left-padded internally; T5 sources are right-padded with 0) or a 2-D array.
    stop_ids: token ids that end a sequence (e.g. [eos_id]); later positions get `pad_id`.
    Greedy by default; `do_sample=True` samples with temperature / top_k / top_p;
    `num_beams > 1` runs beam search (length_penalty, early_stopping as in HuggingFace).
    repetition_penalty: CTRL-style, on every token of the prompt and of the output so far.
    stream=True (greedy/sampling only) returns an iterator of (B,) token arrays, one per step.
    stop_strings: a row ends once its decoded text contains one of them (needs `tokenizer`);
        with beam search the best sequence is cut after the search instead.
    allowed_sequences: token-id lists (or strings, with `tokenizer`): every row's output is one
        of them (followed by a stop id when `stop_ids` are given); works with greedy, sampling
        and beam search.
    tokenizer: a kerasformers tokenizer or an (encode, decode) pair, for stop strings and
        string-valued allowed sequences.
    segment_ids: per-prompt segment ids (GPT with segments, e.g. CDial-GPT's speaker ids); new
        tokens take each row's last prompt segment.

    Returns the new tokens as an int array (B, T ≤ max_new_tokens), padded with `pad_id`
    after each row's end.
    """
    model = resolve_builder(model)
    stop_ids = [] if stop_ids is None else [int(i) for i in np.atleast_1d(stop_ids)]
    _check(
        inputs,
        max_new_tokens,
        min_new_tokens,
        num_beams,
        do_sample,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
    )
    if stream and num_beams > 1:
        raise ValueError("stream=True works with greedy decoding or sampling, not beam search")
    encode, decode = text_codec(tokenizer)
    stops = None if stop_strings is None else StopStrings(stop_strings, decode)
    trie = None
    if allowed_sequences is not None:
        trie = SequenceTrie(allowed_sequences, encode, vocab_size=getattr(model, "vocab_size", None))
        _check_trie(trie, stop_ids, max_new_tokens, min_new_tokens)
    config = {
        "max_new_tokens": int(max_new_tokens),
        "min_new_tokens": int(min_new_tokens),
        "do_sample": bool(do_sample),
        "temperature": float(temperature),
        "top_k": top_k,
        "top_p": top_p,
        "repetition_penalty": float(repetition_penalty),
        "length_penalty": float(length_penalty),
        "early_stopping": early_stopping,
        "stop_ids": tuple(stop_ids),
        "pad_id": int(pad_id),
        "num_beams": int(num_beams),
        "trie": None if trie is None else trie.key,
        "segments": segment_ids is not None,
    }
    decoder = decoder_for(model)
    ids, valid = decoder.prepare_inputs(inputs, pad_id)
    args = (ids, valid) + _segments(decoder, segment_ids, valid)
    decoder.check_length(ids.shape[1], config["max_new_tokens"])
    runner = _runner(decoder)
    key = tuple(sorted((k, str(v)) for k, v in config.items())) + (ids.shape,)
    if stream or (stops is not None and num_beams == 1):
        steps = _stepwise(decoder, runner, key, config, args, seed, trie, stops)
        if stream:
            return steps
        out = np.stack(list(steps), axis=1)
    elif num_beams > 1:
        fn = lambda *a: _beam_search(decoder, config, trie, *a)
        out = ops.convert_to_numpy(runner(("beam",) + key, fn, *args))
    else:
        sampler = _Sampler(config, seed)
        fn = lambda s, *a: _sample_loop(decoder, sampler, config, trie, s, *a)
        out = ops.convert_to_numpy(runner(("sample",) + key, fn, sampler.seed.state.value, *args))
    out, lengths = _ends(out, stop_ids, stops, trie, pad_id)
    return out[:, : max(int(lengths.max()), 1)]


def generate_text(model, prompts, tokenizer, stream=False, **options):
    """Prompts (strings, encoded without [CLS]/[SEP], or id lists) → generated texts.

    Takes every `generate` option; the stop id and everything after it are dropped and the text
    is cut before the first stop string. stream=True (one prompt) yields the new text piece by
    piece; a tail that might still become a stop string is held back until it is clear.
    """
    encode, decode = text_codec(tokenizer)
    prompts = [encode(p) if isinstance(p, str) else p for p in prompts]
    stops = StopStrings(options["stop_strings"], decode) if options.get("stop_strings") else None
    stop_ids = [int(i) for i in np.atleast_1d(options.get("stop_ids") or [])]
    if stream:
        if len(prompts) != 1:
            raise ValueError(f"stream=True streams one prompt, got {len(prompts)}")
        return _stream_text(
            generate(model, prompts, tokenizer=tokenizer, stream=True, **options), decode, stops, stop_ids
        )
    out = generate(model, prompts, tokenizer=tokenizer, **options)
    out, lengths = _ends(out, stop_ids, stops, None, options.get("pad_id", 0))
    texts = []
    for row, length in zip(out, lengths):
        row = [int(i) for i in row[:length] if int(i) not in stop_ids]
        text = decode(row)
        texts.append(text if stops is None else stops.cut(text))
    return texts


def _stream_text(steps, decode, stops, stop_ids):
    ids, emitted = [], ""
    for tokens in steps:
        token = int(tokens[0])
        if token in stop_ids:
            break
        ids.append(token)
        text = decode(ids)
        if stops is not None and stops.find(text) is not None:
            text = stops.cut(text)
            if text.startswith(emitted) and len(text) > len(emitted):
                yield text[len(emitted) :]
            return
        ready = text[: len(text) - (stops.pending(text) if stops is not None else 0)]
        if ready.startswith(emitted) and len(ready) > len(emitted):
            yield ready[len(emitted) :]
            emitted = ready
    text = decode(ids)
    if text.startswith(emitted) and len(text) > len(emitted):
        yield text[len(emitted) :]


def _ends(out, stop_ids, stops, trie, pad_id):
    """Each row's length (through its stop id, the token completing a stop string, or the end of
    its allowed sequence); returns (ids padded after every end, lengths)."""
    out = np.array(out)
    lengths = np.full(len(out), out.shape[1])
    for stop in stop_ids:
        hit = out == stop
        lengths = np.minimum(lengths, np.where(hit.any(1), hit.argmax(1) + 1, out.shape[1]))
    if stops is not None:
        lengths = np.minimum(lengths, stops.cut_ids(out, pad_id)[1])
    if trie is not None and not stop_ids:
        lengths = np.minimum(lengths, [trie.match_length(row) for row in out])
    out[np.arange(out.shape[1])[None, :] >= lengths[:, None]] = pad_id
    return out, lengths


def _check_trie(trie, stop_ids, max_new_tokens, min_new_tokens):
    if min_new_tokens:
        raise ValueError("min_new_tokens cannot be combined with allowed_sequences (their lengths are fixed)")
    if not stop_ids and trie.has_inner_ends():
        raise ValueError(
            "some allowed sequences are prefixes of others: pass stop_ids so the shorter ones can end"
        )
    needed = trie.longest + (1 if stop_ids else 0)
    if int(max_new_tokens) < needed:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} is too short for the longest allowed sequence "
            f"({trie.longest} tokens{' + a stop id' if stop_ids else ''}): use at least {needed}"
        )


def _segments(decoder, segment_ids, valid):
    """Left-pad per-prompt segment ids like the prompts; () when there are none."""
    if segment_ids is None:
        return ()
    if not hasattr(decoder, "unilm") or getattr(decoder.model, "segment_vocab_size", 0) == 0:
        raise ValueError(
            "segment_ids need a decoder-only model with segment embeddings (e.g. GPT built with "
            "segment_vocab_size > 0, as CDial-GPT)"
        )
    segments, segment_valid = left_pad(segment_ids, 0)
    if segments.shape != valid.shape or not np.array_equal(segment_valid, valid):
        raise ValueError("segment_ids must have one id per prompt token (same lengths as the prompts)")
    return (segments,)


def _prefill(decoder, config, ids, valid, segments=None):
    total = ids.shape[1] + config["max_new_tokens"]
    if segments is None:
        logits, state = decoder.prefill(ids, valid, total)
    else:
        logits, state = decoder.prefill(ids, valid, total, segment_ids=segments)
    seen = ops.zeros((ids.shape[0], 1), dtype="bool")  # a placeholder unless penalising repeats
    if config["repetition_penalty"] != 1:
        tokens, token_valid = decoder.context_tokens(ids, valid)
        seen = sampling.mark_seen(
            ops.zeros((ids.shape[0], logits.shape[-1]), dtype="bool"), tokens, token_valid
        )
    return logits, state, decoder.first_step_index(ids.shape[1]), seen


def _sample_loop(decoder, sampler, config, trie, seed_state, ids, valid, segments=None):
    logits, state, offset, seen = _prefill(decoder, config, ids, valid, segments)
    batch, max_new = ids.shape[0], config["max_new_tokens"]
    body = _sample_body(decoder, sampler, offset, max_new, trie)
    out = ops.full((batch, max_new), config["pad_id"], dtype="int32")
    finished = ops.zeros((batch,), dtype="bool")
    node = ops.zeros((batch,), dtype="int32")

    def cond(t, out, finished, *rest):
        return ops.logical_and(t < max_new, ops.logical_not(ops.all(finished)))

    loop = (ops.convert_to_tensor(0, "int32"), out, finished, logits, state, seen, seed_state, node)
    return ops.while_loop(cond, body, loop)[1]


def _beam_search(decoder, config, trie, ids, valid, segments=None):
    logits, state, offset, seen = _prefill(decoder, config, ids, valid, segments)
    batch, beams, max_new = ids.shape[0], config["num_beams"], config["max_new_tokens"]
    vocab = logits.shape[-1]
    repeat = lambda x: ops.repeat(x, beams, axis=0)
    state, logits, seen = map_state(repeat, state), repeat(logits), repeat(seen)
    pad = config["pad_id"]
    run_seq = ops.full((batch, beams, max_new), pad, dtype="int32")
    run_scores = ops.where(ops.arange(beams)[None, :] == 0, 0.0, BEAM_NEG) * ops.ones((batch, 1))
    fin_seq = ops.full((batch, beams, max_new), pad, dtype="int32")
    fin_scores = ops.full((batch, beams), BEAM_NEG, dtype="float32")
    is_fin = ops.zeros((batch, beams), dtype="bool")
    unsatisfied = ops.ones((batch,), dtype="bool")
    node = ops.zeros((batch * beams,), dtype="int32")
    body = _beam_body(decoder, config, offset, batch, beams, max_new, vocab, trie)

    def cond(t, *rest):
        return ops.logical_and(t < max_new, ops.logical_not(rest[6]))

    loop = (
        ops.convert_to_tensor(0, "int32"),
        run_seq,
        ops.cast(run_scores, "float32"),
        fin_seq,
        fin_scores,
        is_fin,
        unsatisfied,
        ops.convert_to_tensor(False),
        logits,
        state,
        seen,
        node,
    )
    return ops.while_loop(cond, body, loop)[3][:, 0]


def _stepwise(decoder, runner, key, config, args, seed, trie, stops):
    """Yield (B,) tokens step by step (one compiled call per step on JAX); stop strings are
    checked on the host between steps and end their rows."""
    sampler = _Sampler(config, seed)
    ids, max_new = args[0], config["max_new_tokens"]
    body = _sample_body(decoder, sampler, decoder.first_step_index(ids.shape[1]), max_new, trie)

    def start(*a):
        logits, state, _, seen = _prefill(decoder, config, *a)
        return logits, state, seen

    logits, state, seen = runner(("stream-start",) + key, start, *args)
    out = ops.full((ids.shape[0], max_new), config["pad_id"], dtype="int32")
    finished = ops.zeros((ids.shape[0],), dtype="bool")
    node = ops.zeros((ids.shape[0],), dtype="int32")
    seed_state = sampler.seed.state.value
    t = ops.convert_to_tensor(0, "int32")
    for step in range(max_new):
        t, out, finished, logits, state, seen, seed_state, node = runner(
            ("stream-step",) + key, body, t, out, finished, logits, state, seen, seed_state, node
        )
        tokens, done = ops.convert_to_numpy(out), ops.convert_to_numpy(finished)
        if stops is not None:
            done = done | stops.ends(tokens[:, : step + 1], done)
            finished = ops.convert_to_tensor(done)
        yield tokens[:, step]
        if bool(np.all(done)):
            return
