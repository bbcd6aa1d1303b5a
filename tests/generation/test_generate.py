"""`generate`: sampling reproducibility and filters, streaming, stop rules, bad input."""

import numpy as np
import pytest
from keras import ops

from kerasformers.generation import generate
from kerasformers.models import build_transformer_model

VOCAB = 61


@pytest.fixture(scope="module")
def gpt2():
    model = build_transformer_model(
        model="gpt2",
        vocab_size=VOCAB,
        hidden_size=24,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=19,
        hidden_act="gelu_new",
        max_position=16,
        final_activation="linear",
        return_keras_model=False,
    )
    rng = np.random.default_rng(0)
    for variable in model.model.weights:
        value = rng.normal(0, 0.3, size=variable.shape) + (1 if "gamma" in variable.path else 0)
        variable.assign(value.astype("float32"))
    return model


PROMPT = [3, 14, 15, 9]


def next_token_probs(model, prompt):
    logits = ops.convert_to_numpy(model.model(np.array([prompt], "int32")))[0, -1].astype("float64")
    p = np.exp(logits - logits.max())
    return p / p.sum()


def test_sampling_is_reproducible_and_respects_top_k(gpt2):
    prompts = [PROMPT] * 200
    first = generate(gpt2, prompts, max_new_tokens=1, do_sample=True, top_k=3, seed=7)
    again = generate(gpt2, prompts, max_new_tokens=1, do_sample=True, top_k=3, seed=7)
    other = generate(gpt2, prompts, max_new_tokens=1, do_sample=True, top_k=3, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    allowed = set(np.argsort(-next_token_probs(gpt2, PROMPT))[:3].tolist())
    drawn = set(first[:, 0].tolist())
    assert drawn <= allowed and len(drawn) > 1  # really sampling, never outside the top 3


def test_top_p_and_temperature_stay_in_the_nucleus(gpt2):
    probs = next_token_probs(gpt2, PROMPT)
    order = np.argsort(-probs)
    top_p = float(probs[order[:2]].sum()) - 1e-4  # nucleus = the two most probable tokens
    out = generate(
        gpt2, [PROMPT] * 200, max_new_tokens=1, do_sample=True, top_p=top_p, temperature=1.0, seed=1
    )
    assert set(out[:, 0].tolist()) == set(order[:2].tolist())


def test_streaming_yields_the_greedy_tokens(gpt2):
    prompts = [PROMPT, [7, 8]]
    full = generate(gpt2, prompts, max_new_tokens=5)
    streamed = np.stack(list(generate(gpt2, prompts, max_new_tokens=5, stream=True)), axis=1)
    np.testing.assert_array_equal(streamed, full)
    # greedy: every new token is the argmax of the uncached model at the position before it
    seq = np.array([PROMPT + full[0].tolist()], "int32")
    logits = ops.convert_to_numpy(gpt2.model(seq))[0]
    np.testing.assert_array_equal(full[0], logits[len(PROMPT) - 1 : -1].argmax(-1))


def test_min_new_tokens_delays_the_stop_id(gpt2):
    candidates = np.random.default_rng(3).integers(1, VOCAB, size=(20, 4))
    frees = generate(gpt2, candidates, max_new_tokens=6).tolist()
    row, k = next((r, k) for r, free in enumerate(frees) for k in range(1, 6) if free[k] not in free[:k])
    prompt, free = [candidates[row].tolist()], frees[row]
    stop = free[k]  # greedy stops after k + 1 tokens
    early = generate(gpt2, prompt, max_new_tokens=6, stop_ids=[stop])[0]
    assert early.tolist() == free[: k + 1]
    late = generate(gpt2, prompt, max_new_tokens=6, stop_ids=[stop], min_new_tokens=k + 2)[0]
    assert stop not in late[: k + 2].tolist()


def test_bad_input_raises_clear_errors(gpt2):
    with pytest.raises(ValueError, match="position table"):
        generate(gpt2, [list(range(1, 14))], max_new_tokens=5)  # 13 + 5 > 16 positions
    with pytest.raises(ValueError, match="top_k"):
        generate(gpt2, [PROMPT], do_sample=True, top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        generate(gpt2, [PROMPT], do_sample=True, top_p=1.5)
    with pytest.raises(ValueError, match="top_p"):
        generate(gpt2, [PROMPT], do_sample=True, top_p=0.0)
    with pytest.raises(ValueError, match="empty batch"):
        generate(gpt2, [], max_new_tokens=3)
    with pytest.raises(ValueError, match="empty prompt"):
        generate(gpt2, [[]], max_new_tokens=3)
    with pytest.raises(ValueError, match="stream"):
        generate(gpt2, [PROMPT], num_beams=2, stream=True)


def test_generate_accepts_the_keras_model_build_transformer_model_returns(gpt2):
    # build_transformer_model returns the Keras model by default; it remembers its builder.
    keras_model = gpt2.model
    assert keras_model.transformer is gpt2
    from_builder = generate(gpt2, [PROMPT], max_new_tokens=5)
    from_keras_model = generate(keras_model, [PROMPT], max_new_tokens=5)
    np.testing.assert_array_equal(from_keras_model, from_builder)


def test_generate_names_what_it_needs_for_a_foreign_keras_model():
    import keras

    inputs = keras.Input((None,), dtype="int32")
    foreign = keras.Model(inputs, keras.layers.Embedding(VOCAB, 8)(inputs))
    with pytest.raises(TypeError, match="build_transformer_model"):
        generate(foreign, [PROMPT], max_new_tokens=2)
