"""BERT / RoBERTa parity with HuggingFace `transformers` (the oracle), on padded batches."""

import keras
import numpy as np
import pytest
import torch

from kerasformers.checkpoints import CheckpointError, open_checkpoint
from kerasformers.models import build_transformer_model

from ..layouts import layout_shapes
from .helpers import TINY, assert_close, padded_batch, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
LENGTHS = [11, 7, 3]


@pytest.fixture(scope="module")
def pretraining_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.BertConfig(**TINY, type_vocab_size=3)
    model = randomize_parameters(transformers.BertForPreTraining(config).eval())
    path = tmp_path_factory.mktemp("bert_pretraining")
    model.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def batch():
    return padded_batch(LENGTHS, TINY["vocab_size"], segments=3)


def hf_pretraining_outputs(model, token_ids, segment_ids):
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
            output_hidden_states=True,
        )
        pooled = model.bert(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
        ).pooler_output
    return {
        "sequence": torch_numpy(out.hidden_states[-1]),
        "pooled": torch_numpy(pooled),
        "mlm": torch_numpy(out.prediction_logits),
        "nsp": torch_numpy(torch.softmax(out.seq_relationship_logits, -1)),
    }


def kf_outputs(checkpoint, token_ids, segment_ids, **kwargs):
    bert = build_transformer_model(
        checkpoint_path=str(checkpoint),
        with_pool=True,
        with_nsp=True,
        with_mlm="linear",
        return_keras_model=False,
        **kwargs,
    )
    nsp, mlm = to_numpy(bert.model.predict([token_ids, segment_ids], verbose=0))  # bert4keras: [nsp, mlm]
    inner = keras.Model(
        bert.model.inputs,
        [
            bert.model.get_layer("Transformer-1-FeedForward-Norm").output,
            bert.model.get_layer("Pooler-Dense").output,
        ],
    )
    sequence, pooled = to_numpy(inner([token_ids, segment_ids]))
    return bert, {"sequence": sequence, "pooled": pooled, "mlm": mlm, "nsp": nsp}


def test_bert_for_pretraining_parity(pretraining_dir, batch):
    path, hf_model = pretraining_dir
    token_ids, segment_ids = batch
    expected = hf_pretraining_outputs(hf_model, token_ids, segment_ids)
    _, actual = kf_outputs(path, token_ids, segment_ids)
    for key in expected:
        assert_close(actual[key], expected[key], what=key)


def test_tf1_checkpoint_round_trip_gives_same_outputs(pretraining_dir, batch, tmp_path):
    path, hf_model = pretraining_dir
    token_ids, segment_ids = batch
    bert, from_hf = kf_outputs(path, token_ids, segment_ids)
    prefix = str(tmp_path / "bert_model.ckpt")
    bert.save_weights_as_checkpoint(prefix)
    shapes = {name: open_checkpoint(prefix).shape(name) for name in open_checkpoint(prefix).keys()}
    assert shapes == layout_shapes("bert_full")  # Google's names and shapes, exactly
    config = tmp_path / "bert_config.json"
    config.write_text(__import__("json").dumps({**TINY, "type_vocab_size": 3, "hidden_act": "gelu"}))
    _, from_tf1 = kf_outputs(prefix, token_ids, segment_ids, config_path=str(config))
    for key in from_hf:
        assert_close(from_tf1[key], from_hf[key], atol=1e-6, what=key)


def test_bert_model_sequence_and_pool(tmp_path, batch):
    torch.manual_seed(1)
    hf = randomize_parameters(
        transformers.BertModel(transformers.BertConfig(**TINY, type_vocab_size=3)).eval(), seed=1
    )
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = batch
    with torch.no_grad():
        out = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
        )
    sequence_model = build_transformer_model(checkpoint_path=str(tmp_path))
    assert_close(
        to_numpy(sequence_model([token_ids, segment_ids])),
        torch_numpy(out.last_hidden_state),
        what="sequence",
    )
    pool_model = build_transformer_model(checkpoint_path=str(tmp_path), with_pool=True)
    assert_close(
        to_numpy(pool_model([token_ids, segment_ids])), torch_numpy(out.pooler_output), what="pooled"
    )


def test_bert_for_masked_lm_softmax(tmp_path, batch):
    torch.manual_seed(2)
    hf = randomize_parameters(
        transformers.BertForMaskedLM(transformers.BertConfig(**TINY, type_vocab_size=3)).eval(), seed=2
    )
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = batch
    with torch.no_grad():
        logits = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
        ).logits
    model = build_transformer_model(checkpoint_path=str(tmp_path), with_mlm=True)
    assert_close(
        to_numpy(model([token_ids, segment_ids])),
        torch_numpy(torch.softmax(logits, -1)),
        atol=1e-5,
        what="mlm probabilities",
    )


def test_roberta_model_parity(tmp_path):
    torch.manual_seed(3)
    config = transformers.RobertaConfig(
        **{**TINY, "max_position_embeddings": TINY["max_position_embeddings"] + 2},
        type_vocab_size=1,
        pad_token_id=1,
        layer_norm_eps=1e-5,
    )
    hf = randomize_parameters(transformers.RobertaForMaskedLM(config).eval(), seed=3)
    hf.save_pretrained(tmp_path)
    token_ids, _ = padded_batch(LENGTHS, TINY["vocab_size"], pad_id=1, low=2, seed=4)
    with torch.no_grad():
        out = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 1, dtype=torch.long),
            output_hidden_states=True,
        )
    model = build_transformer_model(
        checkpoint_path=str(tmp_path), segment_vocab_size=0, with_mlm="linear", return_keras_model=False
    )
    logits = to_numpy(model.model(token_ids))
    encoder = keras.Model(model.model.inputs, model.model.get_layer("Transformer-1-FeedForward-Norm").output)
    real = token_ids != 1  # HF gives pad positions position id 1; only real tokens are comparable
    assert_close(
        to_numpy(encoder(token_ids)), torch_numpy(out.hidden_states[-1]), where=real, what="sequence"
    )
    assert_close(logits, torch_numpy(out.logits), where=real, what="mlm logits")


def test_unilm_mask_equals_bert_with_explicit_4d_mask(tmp_path):
    torch.manual_seed(5)
    hf = randomize_parameters(
        transformers.BertModel(transformers.BertConfig(**TINY, type_vocab_size=2)).eval(), seed=5
    )
    hf.save_pretrained(tmp_path)
    token_ids, _ = padded_batch([9, 6], TINY["vocab_size"], seed=6)
    segment_ids = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 0, 0, 0]], dtype="int32")
    segment_ids = segment_ids * (token_ids != 0)
    cumsum = np.cumsum(segment_ids, axis=1)
    allowed = (cumsum[:, None, :] <= cumsum[:, :, None]) & (token_ids != 0)[:, None, :]
    mask4d = np.where(allowed, 0.0, np.finfo("float32").min)[:, None].astype("float32")
    with torch.no_grad():
        expected = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(mask4d),
        ).last_hidden_state
    # unilm switches the MLM head on (as bert4keras does); compare the encoder output under it
    model = build_transformer_model(
        checkpoint_path=str(tmp_path), application="unilm", ignore_invalid_weights=True
    )
    encoder = keras.Model(model.inputs, model.get_layer("Transformer-1-FeedForward-Norm").output)
    assert_close(
        to_numpy(encoder([token_ids, segment_ids])), torch_numpy(expected), where=token_ids != 0, what="unilm"
    )


def test_shape_mismatch_names_variable_shapes_and_file(pretraining_dir):
    path, _ = pretraining_dir
    with pytest.raises(CheckpointError) as info:
        build_transformer_model(checkpoint_path=str(path), intermediate_size=38)
    message = str(info.value)
    assert "bert/encoder/layer_0/intermediate/dense/kernel" in message
    assert "(48, 38)" in message and "(48, 37)" in message
    assert str(path) in message


def test_missing_variable_is_an_error_unless_ignored(tmp_path, batch):
    torch.manual_seed(7)
    hf = transformers.BertModel(transformers.BertConfig(**TINY, type_vocab_size=3), add_pooling_layer=False)
    hf.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="bert/pooler/dense/kernel"):
        build_transformer_model(checkpoint_path=str(tmp_path), with_pool=True)
    model = build_transformer_model(
        checkpoint_path=str(tmp_path), with_pool=True, ignore_invalid_weights=True
    )
    assert to_numpy(model(list(batch))).shape == (3, 48)


def test_export_to_huggingface_folder_loads_in_transformers(pretraining_dir, batch, tmp_path):
    path, hf_model = pretraining_dir
    token_ids, segment_ids = batch
    bert, _ = kf_outputs(path, token_ids, segment_ids)
    bert.save_weights_as_huggingface(tmp_path / "export")
    reloaded = transformers.BertForPreTraining.from_pretrained(tmp_path / "export").eval()
    expected = hf_pretraining_outputs(hf_model, token_ids, segment_ids)
    actual = hf_pretraining_outputs(reloaded, token_ids, segment_ids)
    for key in expected:
        assert_close(actual[key], expected[key], atol=1e-6, what=key)


def test_roberta_without_segments_exports_to_bert_layout(tmp_path):
    torch.manual_seed(8)
    config = transformers.RobertaConfig(
        **{**TINY, "max_position_embeddings": TINY["max_position_embeddings"] + 2},
        type_vocab_size=1,
        pad_token_id=1,
    )
    hf = transformers.RobertaModel(config, add_pooling_layer=False).eval()
    hf.save_pretrained(tmp_path / "roberta")
    model = build_transformer_model(
        checkpoint_path=str(tmp_path / "roberta"), segment_vocab_size=0, return_keras_model=False
    )
    model.save_weights_as_huggingface(tmp_path / "export")
    exported = transformers.BertModel.from_pretrained(tmp_path / "export", add_pooling_layer=False).eval()
    token_ids, _ = padded_batch(LENGTHS, TINY["vocab_size"], pad_id=1, low=2, seed=9)
    with torch.no_grad():
        expected = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 1, dtype=torch.long),
        ).last_hidden_state
        actual = exported(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            attention_mask=torch.tensor(token_ids != 1, dtype=torch.long),
        ).last_hidden_state
    assert_close(torch_numpy(actual), torch_numpy(expected), where=token_ids != 1, what="sequence")
