"""Decoding controls of `generate`: trie-constrained decoding, stop strings, repetition penalty,
text streaming, segment ids — checked against NumPy references on the uncached model."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from kerasformers.generation import SequenceTrie, generate, generate_text
from kerasformers.generation.text import StopStrings
from kerasformers.models import build_transformer_model

VOCAB = 61
LETTERS = "#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"  # one character per id; 0 = "#"
PROMPTS = [[3, 14, 15, 9], [7, 8], [1, 2, 3]]
NEW = 6  # max_new_tokens everywhere, so tests share compiled loops


def randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.model.weights:
        value = rng.normal(0, 0.3, size=variable.shape) + (1 if "gamma" in variable.path else 0)
        variable.assign(value.astype("float32"))
    return model


@pytest.fixture(scope="module")
def gpt2():
    return randomise(
        build_transformer_model(
            model="gpt2",
            vocab_size=VOCAB,
            hidden_size=24,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=19,
            hidden_act="gelu_new",
            max_position=32,
            final_activation="linear",
            return_keras_model=False,
        )
    )


def decode(ids):
    return "".join(LETTERS[int(i)] for i in ids)


def encode(text):
    return [LETTERS.index(c) for c in text]


def full_logits(model, tokens, segments=None, width=16):
    """Uncached next-token logits after every position of `tokens` (T, V). Inputs are right-padded
    to one width (causal: padding never changes earlier positions), so eager ops compile once."""

    def padded(ids):
        return np.array([list(ids) + [0] * (width - len(ids))], "int32")

    inputs = padded(tokens) if segments is None else [padded(tokens), padded(segments)]
    return ops.convert_to_numpy(model.model(inputs))[0, : len(tokens)].astype("float64")


def full_log_probs(model, tokens, segments=None):
    logits = full_logits(model, tokens, segments)
    top = logits.max(-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))


# ---------------------------------------------------------------------- trie-constrained decoding
sequence_sets = st.lists(st.lists(st.integers(1, 11), min_size=1, max_size=4), min_size=1, max_size=6)


@settings(max_examples=12, deadline=None)
@given(sequences=sequence_sets, seed=st.integers(0, 2**16), use_stop=st.booleans())
def test_constrained_steps_never_leave_the_set_under_random_logits(sequences, seed, use_stop):
    """Greedy and sampled choices over random logits, masked by the trie, spell allowed sequences."""
    trie = SequenceTrie(sequences)
    stop_ids = (0,) if use_stop or trie.has_inner_ends() else ()
    rng = np.random.default_rng(seed)
    batch, vocab = 6, 12
    node = ops.zeros((batch,), "int32")
    rows, done = [[] for _ in range(batch)], np.zeros(batch, bool)
    generator = keras.random.SeedGenerator(seed)
    for _step in range(trie.longest + 1):
        logits = ops.convert_to_tensor(rng.normal(0, 3, (batch, vocab)).astype("float32"))
        logits = trie.restrict(logits, node, stop_ids)
        greedy = ops.argmax(logits[: batch // 2], axis=-1)
        sampled = keras.random.categorical(logits[batch // 2 :], 1, seed=generator)[:, 0]
        tokens = ops.convert_to_numpy(
            ops.concatenate([ops.cast(greedy, "int32"), ops.cast(sampled, "int32")])
        )
        node = trie.advance(node, tokens)
        leaf = ops.convert_to_numpy(trie.is_leaf(node))
        for row in np.flatnonzero(~done):
            if tokens[row] in stop_ids:
                done[row] = True
            else:
                rows[row].append(int(tokens[row]))
                done[row] = not stop_ids and leaf[row]
    assert done.all()
    for row in rows:
        assert row in trie.sequences


ALLOWED = ["abc", "ab", "kKx", "kKyz", "Q"]  # strings through the tokenizer; "ab" is a prefix of "abc"


def assert_in_set(out, stop_id=None):
    for row in out.tolist():
        if stop_id is not None:
            assert stop_id in row, row
            row = row[: row.index(stop_id)]
        assert decode(row) in ALLOWED, row


SAMPLING = {"do_sample": True, "seed": 3, "top_k": 8}


@pytest.mark.parametrize("mode", [{}, {"num_beams": len(ALLOWED)}, SAMPLING])
def test_generate_with_allowed_strings_stays_in_the_set(gpt2, mode):
    prompts = PROMPTS * 3 if mode.get("do_sample") else PROMPTS
    out = generate(
        gpt2,
        prompts,
        max_new_tokens=NEW,
        allowed_sequences=ALLOWED,
        tokenizer=(encode, decode),
        stop_ids=[0],
        **mode,
    )
    assert_in_set(out, stop_id=0)
    if mode.get("do_sample"):
        assert len({tuple(row) for row in out.tolist()}) > 1  # really sampling


def test_without_stop_ids_rows_end_at_a_leaf(gpt2):
    leaves = ["kKx", "kKyz", "Q"]
    out = generate(gpt2, PROMPTS, max_new_tokens=NEW, allowed_sequences=leaves, tokenizer=(encode, decode))
    for row in out.tolist():
        assert decode(row).rstrip("#") in leaves  # padded with id 0 after the end


def sequence_score(model, prompt, tokens):
    """Sum of the log-probabilities of `tokens` after `prompt` under the uncached model."""
    log_probs = full_log_probs(model, prompt + tokens[:-1])
    return sum(log_probs[len(prompt) - 1 + i, token] for i, token in enumerate(tokens))


@pytest.mark.slow  # the NumPy references run the uncached model once per step and candidate
def test_constrained_beam_and_greedy_match_numpy_references(gpt2):
    """With as many beams as sequences, beam search returns the best-scoring allowed sequence
    (sum log-prob / length, stop id included); greedy takes the best allowed token each step."""
    candidates = [encode(text) + [0] for text in ALLOWED]
    beam = generate(
        gpt2,
        PROMPTS,
        max_new_tokens=NEW,
        allowed_sequences=ALLOWED,
        tokenizer=(encode, decode),
        stop_ids=[0],
        num_beams=len(ALLOWED),
    )
    greedy = generate(
        gpt2, PROMPTS, max_new_tokens=NEW, allowed_sequences=ALLOWED, tokenizer=(encode, decode), stop_ids=[0]
    )
    trie = SequenceTrie(ALLOWED, encode)
    for row, prompt in enumerate(PROMPTS):
        scores = [sequence_score(gpt2, prompt, c) / len(c) for c in candidates]
        best = candidates[int(np.argmax(scores))]
        assert beam[row, : len(best)].tolist() == best
        # greedy reference: the most probable token that the trie allows, step by step
        tokens, node = [], 0
        while not tokens or tokens[-1] != 0:
            log_probs = full_log_probs(gpt2, prompt + tokens)[-1]
            mask = ops.convert_to_numpy(trie.allowed(ops.convert_to_tensor([node], "int32"), VOCAB, (0,)))[0]
            tokens.append(int(np.argmax(np.where(mask, log_probs, -np.inf))))
            node = int(
                ops.convert_to_numpy(
                    trie.advance(ops.convert_to_tensor([node], "int32"), np.array([tokens[-1]], "int32"))
                )[0]
            )
        assert greedy[row, : len(tokens)].tolist() == tokens


# ---------------------------------------------------------------------- stop strings
PAIRS = [LETTERS[i % 62] + LETTERS[(7 * i + 3) % 62] for i in range(VOCAB)]  # two characters per id


def decode_pairs(ids):
    return "".join(PAIRS[int(i)] for i in ids)


def test_stop_string_spanning_two_tokens_ends_the_row_and_cuts_the_text(gpt2):
    free = generate(gpt2, PROMPTS, max_new_tokens=NEW)
    text = decode_pairs(free[0])
    # the stop string: last character of token 2 + first character of token 3 (inside no single token)
    stop = text[5:7]
    first = text.find(stop)
    assert first >= 3  # not found earlier in the text
    end = first // 2 + 2  # tokens up to the one completing the stop string
    codec = (encode, decode_pairs)
    out = generate(gpt2, PROMPTS, max_new_tokens=NEW, stop_strings=[stop], tokenizer=codec)
    assert out[0, :end].tolist() == free[0, :end].tolist() and (out[0, end:] == 0).all()
    for row in (1, 2):  # rows without the stop string run on unchanged
        if stop not in decode_pairs(free[row]):
            assert out[row].tolist() == free[row].tolist()
    texts = generate_text(gpt2, PROMPTS, codec, max_new_tokens=NEW, stop_strings=[stop])
    assert texts[0] == text[:first]
    streamed = list(
        generate_text(gpt2, PROMPTS[:1], codec, max_new_tokens=NEW, stop_strings=[stop], stream=True)
    )
    assert "".join(streamed) == text[:first] and all(streamed)
    # beam search: the chosen sequence is cut after the token that completes a stop string
    beams = generate_text(gpt2, PROMPTS, codec, max_new_tokens=NEW, num_beams=2, stop_strings=[stop])
    plain = generate_text(gpt2, PROMPTS, codec, max_new_tokens=NEW, num_beams=2)
    assert beams == [p[: p.find(stop)] if stop in p else p for p in plain]


def test_streams_hold_back_what_may_become_a_stop_string():
    stops = StopStrings(["。\n", "END"], decode)
    assert stops.pending("你好。") == 1 and stops.pending("the EN") == 2 and stops.pending("abc") == 0
    assert stops.cut("好。\n的END") == "好" and stops.find("no stop") is None


# ---------------------------------------------------------------------- repetition penalty, seeds
def test_repetition_penalty_matches_a_numpy_reference(gpt2):
    penalty = 2.5
    out = generate(gpt2, PROMPTS, max_new_tokens=NEW, repetition_penalty=penalty)
    plain = generate(gpt2, PROMPTS, max_new_tokens=NEW)
    assert not np.array_equal(out, plain)  # the penalty changes these outputs
    for row, prompt in enumerate(PROMPTS):
        tokens = list(prompt)
        for _ in range(NEW):
            logits = full_logits(gpt2, tokens)[-1]
            seen = np.isin(np.arange(VOCAB), tokens)
            logits = np.where(seen, np.where(logits > 0, logits / penalty, logits * penalty), logits)
            tokens.append(int(np.argmax(logits)))
        assert out[row].tolist() == tokens[len(prompt) :]


def test_seeded_sampling_with_controls_is_deterministic(gpt2):
    options = {
        "max_new_tokens": NEW,
        "do_sample": True,
        "top_k": 8,
        "stop_strings": ["zz"],
        "tokenizer": (encode, decode),
    }
    prompts = PROMPTS * 3
    first = generate(gpt2, prompts, seed=11, **options)
    np.testing.assert_array_equal(first, generate(gpt2, prompts, seed=11, **options))
    assert not np.array_equal(first, generate(gpt2, prompts, seed=12, **options))
    constrained = dict(
        max_new_tokens=NEW, allowed_sequences=ALLOWED, tokenizer=(encode, decode), stop_ids=[0], **SAMPLING
    )
    np.testing.assert_array_equal(
        generate(gpt2, prompts, **constrained), generate(gpt2, prompts, **constrained)
    )


# ---------------------------------------------------------------------- segments (CDial-GPT)
def test_segment_ids_follow_the_prompt_like_cdial_gpt():
    """GPT with segments shared with the token table: new tokens take the last prompt segment."""
    model = randomise(
        build_transformer_model(
            model="gpt",
            vocab_size=VOCAB,
            hidden_size=24,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=19,
            max_position=32,
            segment_vocab_size=VOCAB,
            shared_segment_embeddings=True,
            final_activation="linear",
            return_keras_model=False,
        ),
        seed=1,
    )
    prompts = [[2, 5, 30, 31, 6], [2, 5, 40, 6]]
    segments = [[2, 5, 5, 5, 6], [2, 5, 5, 6]]
    out = generate(model, prompts, max_new_tokens=4, segment_ids=segments)
    for row, (prompt, segment) in enumerate(zip(prompts, segments)):
        tokens, speakers = list(prompt), list(segment)
        for _ in range(4):
            tokens.append(int(np.argmax(full_log_probs(model, tokens, speakers)[-1])))
            speakers.append(segment[-1])
        assert out[row].tolist() == tokens[len(prompt) :]


# ---------------------------------------------------------------------- bad input
def test_controls_reject_bad_input_clearly(gpt2):
    codec = (encode, decode)
    with pytest.raises(ValueError, match="tokenizer"):
        generate(gpt2, PROMPTS, stop_strings=["ab"])
    with pytest.raises(ValueError, match="non-empty"):
        generate(gpt2, PROMPTS, stop_strings=[""], tokenizer=codec)
    with pytest.raises(ValueError, match="tokenizer"):
        generate(gpt2, PROMPTS, allowed_sequences=["ab"])
    with pytest.raises(ValueError, match="prefixes"):
        generate(gpt2, PROMPTS, allowed_sequences=ALLOWED, tokenizer=codec)
    with pytest.raises(ValueError, match="max_new_tokens=3"):
        generate(gpt2, PROMPTS, max_new_tokens=3, allowed_sequences=ALLOWED, tokenizer=codec, stop_ids=[0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(gpt2, PROMPTS, allowed_sequences=[[5, 99]])
    with pytest.raises(ValueError, match="empty"):
        generate(gpt2, PROMPTS, allowed_sequences=[])
    with pytest.raises(ValueError, match="segment"):
        generate(gpt2, PROMPTS, segment_ids=[[0] * len(p) for p in PROMPTS])
    with pytest.raises(ValueError, match="one prompt"):
        generate_text(gpt2, PROMPTS, codec, stream=True)
