"""Where a task's encoder comes from: TF1 and HF checkpoint folders load their weights, and
``checkpoint=None`` uses the cached pretrained model or falls back to scratch (no training)."""

import json

import numpy as np
import pytest

import kerasformers.pretraining
from kerasformers.models import build_transformer_model
from kerasformers.pretraining import PRETRAINED_NAME
from kerasformers.tasks import TASKS
from kerasformers.tasks.encoder import character_vocabulary

RECORDS = [
    {"text": "王小明在北京工作", "entities": [{"type": "PER", "start": 0, "end": 3, "text": "王小明"}]}
]
CONFIG = {
    "vocab_size": None,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny random BERT written as a bert4keras/TF1 folder and as an HF folder."""
    folder = tmp_path_factory.mktemp("tf1")
    vocab = character_vocabulary(["王小明在北京工作"])
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    config = {**CONFIG, "vocab_size": len(vocab)}
    (folder / "bert_config.json").write_text(json.dumps(config), encoding="utf-8")
    bert = build_transformer_model(str(folder / "bert_config.json"), return_keras_model=False)
    rng = np.random.default_rng(0)
    for variable in bert.model.weights:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype("float32"))
    bert.save_weights_as_checkpoint(str(folder / "bert_model.ckpt"))
    hf_folder = tmp_path_factory.mktemp("hf")
    bert.save_weights_as_huggingface(str(hf_folder))
    (hf_folder / "vocab.txt").write_text((folder / "vocab.txt").read_text(encoding="utf-8"), encoding="utf-8")
    embeddings = bert.model.get_layer("Embedding-Token").get_weights()[0]
    return folder, hf_folder, embeddings


def _token_embeddings(task):
    return task.train_model.get_layer("Embedding-Token").get_weights()[0]


@pytest.mark.parametrize("layout", ["tf1", "hf"])
def test_task_encoder_loads_checkpoint_folders(pretrained, layout):
    tf1_folder, hf_folder, embeddings = pretrained
    folder = tf1_folder if layout == "tf1" else hf_folder
    task = TASKS["ner"](checkpoint=folder, maxlen=32)
    task.prepare(RECORDS)
    assert task.spec.source == str(folder)
    np.testing.assert_allclose(_token_embeddings(task), embeddings, rtol=1e-6)


def test_default_checkpoint_uses_cached_model_else_scratch(pretrained, monkeypatch):
    tf1_folder, _, embeddings = pretrained
    monkeypatch.setattr(kerasformers.pretraining, "find_pretrained", lambda name: None)
    task = TASKS["ner"](maxlen=32)
    task.prepare(RECORDS)
    assert task.spec.source == "scratch"
    assert set(task.tokenizer._token_dict) >= set("王小明在北京工作")
    monkeypatch.setattr(
        kerasformers.pretraining,
        "find_pretrained",
        lambda name: tf1_folder if name == PRETRAINED_NAME else None,
    )
    task = TASKS["ner"](maxlen=32)
    task.prepare(RECORDS)
    assert task.spec.source == str(tf1_folder)
    np.testing.assert_allclose(_token_embeddings(task), embeddings, rtol=1e-6)


def test_family_of_a_two_layout_folder_comes_from_its_hf_config(tmp_path):
    """A pretrained folder (bert_config.json + TF1 and config.json + safetensors) of a RoFormer
    builds a RoFormer: bert_config.json does not name the family, config.json's model_type does."""
    vocab = character_vocabulary(["王小明在北京工作"])
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    config = {**CONFIG, "vocab_size": len(vocab)}
    (tmp_path / "bert_config.json").write_text(json.dumps(config), encoding="utf-8")
    roformer = build_transformer_model(
        str(tmp_path / "bert_config.json"), model="roformer", return_keras_model=False
    )
    rng = np.random.default_rng(0)
    for variable in roformer.model.weights:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype("float32"))
    roformer.save_weights_as_checkpoint(str(tmp_path / "bert_model.ckpt"))
    roformer.save_weights_as_huggingface(str(tmp_path))
    task = TASKS["ner"](checkpoint=tmp_path, maxlen=32)
    task.prepare(RECORDS)
    assert task.spec.model == "roformer"
    embeddings = roformer.model.get_layer("Embedding-Token").get_weights()[0]
    np.testing.assert_allclose(_token_embeddings(task), embeddings, rtol=1e-6)
    tokens = np.array([[2, 5, 6, 7, 3]])
    np.testing.assert_allclose(
        task.spec.build().model.predict([tokens, np.zeros_like(tokens)], verbose=0),
        roformer.model.predict([tokens, np.zeros_like(tokens)], verbose=0),
        atol=1e-5,
    )


def test_incomplete_checkpoint_folder_is_a_clear_error(tmp_path):
    (tmp_path / "bert_config.json").write_text("{}", encoding="utf-8")
    task = TASKS["ner"](checkpoint=tmp_path)
    with pytest.raises(ValueError, match="no vocab.txt"):
        task.prepare(RECORDS)


def test_mean_pooling_ignores_padding_and_rejects_unknown_modes():
    """The mean-pooled class scores of a text do not depend on how far its batch is padded."""
    with pytest.raises(ValueError, match="pooling must be 'cls' or 'mean'"):
        TASKS["classification"](pooling="max")
    task = TASKS["classification"](
        checkpoint="scratch", maxlen=32, pooling="mean", encoder={"hidden_size": 16}
    )
    records = [{"text": "这家酒店很好", "label": "1"}, {"text": "房间太小了", "label": "0"}]
    task.prepare(records)
    features = task.features(records[0], training=False)
    short = task.predict_batch(features, 10)
    long = task.predict_batch(features, 30)
    np.testing.assert_allclose(short, long, atol=1e-6)
