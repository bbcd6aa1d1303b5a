"""LoRA: adapters reach every family's projections, merge/unmerge, adapter files, checkpoints of
an adapted model. The real task (a pretrained Chinese model on reviews) is test_lora_task.py."""

import gc
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
    # B = 0: no change yet. A direct call and a compiled predict are different XLA programs, whose
    # float32 sums may round apart by a few ulps (1.1e-6 seen on an AVX-512 CPU at values ≈ 2).
    np.testing.assert_allclose(forward(), base, rtol=1e-5, atol=1e-5)
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


def test_checkpoints_of_an_adapted_model_hold_the_merged_weights(tmp_path):
    """save_weights_as_checkpoint / _as_huggingface on a model with trained adapters write
    W + alpha/r·AB, so the saved model reproduces the adapted outputs (adapters are not lost)."""
    transformer = build_transformer_model(**TINY, return_keras_model=False)
    randomise(transformer.model)
    lora.enable_lora(transformer.model, rank=2, alpha=4)
    random_adapters(transformer.model)
    inputs = batch_for(transformer.model, np.random.default_rng(4))
    adapted = transformer.model.predict(inputs, verbose=0)
    transformer.save_weights_as_checkpoint(str(tmp_path / "adapted.ckpt"))
    transformer.save_weights_as_huggingface(str(tmp_path / "hf"))
    for source in (str(tmp_path / "adapted.ckpt"), str(tmp_path / "hf")):
        reloaded = build_transformer_model(checkpoint_path=source, **TINY)
        np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), adapted, atol=1e-5)
    assert lora.adapted_layers(transformer.model)  # saving merged nothing in place
