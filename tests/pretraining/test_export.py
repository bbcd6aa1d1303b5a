"""The exported folder: TF1 and HuggingFace files that kerasformers and transformers load alike."""

import json
import pathlib
import shutil

import keras
import numpy as np
import pytest

from kerasformers.models import build_transformer_model
from kerasformers.pretraining import find_pretrained
from kerasformers.pretraining.model import bert_config, build_pretraining_model, export_pretrained
from kerasformers.pretraining.presets import is_complete

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("我们喜欢读书这本很好不错")


def _randomize(model, rng):
    """Every parameter random: weights and biases std 0.25, LayerNorm gains near 1."""
    for variable in model.weights:
        shape = tuple(variable.shape)
        value = rng.normal(0, 0.25, shape)
        if variable.path.endswith("gamma"):
            value = 1 + rng.normal(0, 0.1, shape)
        variable.assign(value.astype("float32"))


@pytest.fixture(scope="module", params=["bert", "roformer"])
def exported(request, tmp_path_factory):
    family = request.param
    root = tmp_path_factory.mktemp(f"export-{family}")
    config = bert_config(
        len(TOKENS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=16,
    )
    (root / "config.json").write_text(json.dumps(config))
    transformer, train_model = build_pretraining_model(
        str(root / "config.json"), "mlm", max_predictions=3, model=family
    )
    _randomize(train_model, np.random.default_rng(0))
    token_dict = {t: i for i, t in enumerate(TOKENS)}
    folder = pathlib.Path(export_pretrained(transformer, root / "models" / "tiny", config, token_dict))
    rng = np.random.default_rng(1)
    token_ids = rng.integers(5, len(TOKENS), (2, 9))
    token_ids[:, 0], token_ids[:, -1], token_ids[1, 6:] = 2, 3, 0  # second row padded
    segment_ids = np.zeros_like(token_ids)
    segment_ids[0, 5:] = 1
    expected = transformer.model.predict([token_ids, segment_ids], verbose=0)
    return folder, config, (token_ids, segment_ids), expected, family


def test_folder_is_complete_and_found(exported, monkeypatch, tmp_path):
    folder, config, _, _, _ = exported
    assert is_complete(folder)
    assert json.loads((folder / "bert_config.json").read_text()) == config
    copy = tmp_path / "presets" / "tiny"
    shutil.copytree(folder, copy)
    monkeypatch.setenv("KERASFORMERS_PRETRAINED", str(copy.parent))
    assert find_pretrained("tiny") == copy
    (copy / "model.safetensors").unlink()
    assert find_pretrained("tiny") is None  # an incomplete folder is never returned


@pytest.mark.parametrize("source", ["tf1", "hf"])
def test_kerasformers_loads_both_layouts_with_equal_outputs(exported, source):
    folder, _, inputs, (pooled, mlm_logits), family = exported
    if source == "tf1":
        model = build_transformer_model(
            f"{folder}/bert_config.json",
            f"{folder}/bert_model.ckpt",
            model=family,
            with_pool=True,
            with_mlm="linear",
        )
    else:
        model = build_transformer_model(
            checkpoint_path=str(folder), model=family, with_pool=True, with_mlm="linear"
        )
    got_pooled, got_logits = model.predict(list(inputs), verbose=0)
    np.testing.assert_allclose(got_logits, mlm_logits, atol=1e-5)
    np.testing.assert_allclose(got_pooled, pooled, atol=1e-5)
    keras.backend.clear_session()


def test_transformers_loads_the_hf_folder_with_equal_outputs(exported):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder, _, (token_ids, segment_ids), (_, mlm_logits), family = exported
    oracle = {"bert": transformers.BertForPreTraining, "roformer": transformers.RoFormerForMaskedLM}[family]
    model = oracle.from_pretrained(str(folder)).eval()
    sequence = build_transformer_model(
        f"{folder}/bert_config.json", f"{folder}/bert_model.ckpt", model=family
    )
    hidden = sequence.predict([token_ids, segment_ids], verbose=0)
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(token_ids),
            token_type_ids=torch.tensor(segment_ids),
            attention_mask=torch.tensor(token_ids > 0),
            output_hidden_states=True,
        )
    real = token_ids > 0  # padded positions differ by design (bert4keras masks keys, not outputs)
    np.testing.assert_allclose(out.hidden_states[-1].numpy()[real], hidden[real], atol=1e-4)
    logits = out.prediction_logits if family == "bert" else out.logits
    np.testing.assert_allclose(logits.numpy()[real], mlm_logits[real], atol=1e-4)
    assert len(out.hidden_states) == 3  # embeddings + 2 layers


def test_float16_export_loads_to_the_same_rounded_weights(exported, tmp_path):
    folder, config, _, _, family = exported
    transformer = build_transformer_model(
        f"{folder}/bert_config.json",
        f"{folder}/bert_model.ckpt",
        model=family,
        with_pool=True,
        with_mlm="linear",
        return_keras_model=False,
    )
    token_dict = {t: i for i, t in enumerate(TOKENS)}
    half = pathlib.Path(
        export_pretrained(transformer, tmp_path / "half", config, token_dict, weights_dtype="float16")
    )
    from_tf1 = build_transformer_model(
        f"{half}/bert_config.json", f"{half}/bert_model.ckpt", model=family, with_pool=True, with_mlm="linear"
    )
    from_hf = build_transformer_model(
        checkpoint_path=str(half), model=family, with_pool=True, with_mlm="linear"
    )
    for a, b, original in zip(from_tf1.weights, from_hf.weights, transformer.model.weights):
        a, b, original = (keras.ops.convert_to_numpy(v) for v in (a, b, original))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, original.astype("float16").astype("float32"))
    assert (half / "model.safetensors").stat().st_size < (folder / "model.safetensors").stat().st_size * 0.6
