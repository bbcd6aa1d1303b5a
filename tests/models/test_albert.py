"""ALBERT parity with HuggingFace `transformers` (embedding size ≠ hidden size, shared layers)."""

import json

import keras
import pytest
import torch

from kerasformers.checkpoints import CheckpointError, open_checkpoint
from kerasformers.models import build_transformer_model

from ..layouts import original_layout
from .helpers import TINY, assert_close, hf_inputs, padded_batch, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
CONFIG = dict(TINY, embedding_size=24, type_vocab_size=3, hidden_act="gelu")


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize_parameters(transformers.AlbertForMaskedLM(transformers.AlbertConfig(**CONFIG)).eval())
    path = tmp_path_factory.mktemp("albert_mlm")
    model.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def batch():
    return padded_batch([11, 7, 3], TINY["vocab_size"], segments=3)


def sequence_and_mlm(path, token_ids, segment_ids, model="albert", **kwargs):
    albert = build_transformer_model(
        checkpoint_path=str(path), model=model, with_mlm="linear", return_keras_model=False, **kwargs
    )
    last = "Transformer-FeedForward-Norm" if model == "albert" else "Transformer-1-FeedForward-Norm"
    layer = albert.model.get_layer(last)
    # a shared layer has one node per call; the last call is the last Transformer layer
    output = layer._inbound_nodes[-1].output_tensors[0] if model == "albert" else layer.output
    encoder = keras.Model(albert.model.inputs, output)
    return (
        albert,
        to_numpy(encoder([token_ids, segment_ids])),
        to_numpy(albert.model([token_ids, segment_ids])),
    )


@pytest.mark.parametrize("model", ["albert", "albert_unshared"])
def test_albert_for_masked_lm_parity(mlm_dir, batch, model):
    path, hf = mlm_dir
    token_ids, segment_ids = batch
    with torch.no_grad():
        out = hf(**hf_inputs(token_ids, segment_ids), output_hidden_states=True)
    albert, sequence, logits = sequence_and_mlm(path, token_ids, segment_ids, model=model)
    assert_close(sequence, torch_numpy(out.hidden_states[-1]), what="sequence")
    assert_close(logits, torch_numpy(out.logits), what="mlm logits")
    n_block_weights = 16  # q, k, v, o (kernel + bias) + 2 LayerNorms + 2 FFN denses
    expected = n_block_weights * (1 if model == "albert" else TINY["num_hidden_layers"])
    assert (
        sum(len(layer.weights) for name, layer in albert.layers.items() if name.startswith("Transformer-"))
        == expected
    )


def test_albert_model_with_pool(tmp_path, batch):
    torch.manual_seed(1)
    hf = randomize_parameters(transformers.AlbertModel(transformers.AlbertConfig(**CONFIG)).eval(), seed=1)
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = batch
    with torch.no_grad():
        out = hf(**hf_inputs(token_ids, segment_ids))
    model = build_transformer_model(checkpoint_path=str(tmp_path), model="albert", with_pool=True)
    assert_close(to_numpy(model([token_ids, segment_ids])), torch_numpy(out.pooler_output), what="pooled")


def test_tf1_names_load_to_the_same_outputs(mlm_dir, batch, tmp_path):
    path, _ = mlm_dir
    token_ids, segment_ids = batch
    albert, sequence, logits = sequence_and_mlm(path, token_ids, segment_ids)
    prefix = str(tmp_path / "albert_model.ckpt")
    albert.save_weights_as_checkpoint(prefix)
    names = set(open_checkpoint(prefix).keys())
    layout = original_layout("albert")
    # exactly the original TF1 names (the layout file also has the pooler)
    expected = {n for n in layout if not n.startswith("bert/pooler")}
    assert names == expected, sorted(names ^ expected)
    config = tmp_path / "albert_config.json"
    config.write_text(json.dumps(CONFIG))
    _, sequence2, logits2 = sequence_and_mlm(prefix, token_ids, segment_ids, config_path=str(config))
    assert_close(sequence2, sequence, atol=1e-6, what="sequence")
    assert_close(logits2, logits, atol=1e-6, what="logits")
    # the unshared variant reads the same TF1 checkpoint into every layer
    unshared, sequence3, _ = sequence_and_mlm(
        prefix, token_ids, segment_ids, model="albert_unshared", config_path=str(config)
    )
    assert_close(sequence3, sequence, atol=1e-6, what="unshared sequence")
    # ...and saves back to the same single shared block
    unshared.save_weights_as_checkpoint(str(tmp_path / "unshared.ckpt"))
    assert set(open_checkpoint(str(tmp_path / "unshared.ckpt")).keys()) == names


def test_bert_checkpoint_is_rejected_naming_the_variables(tmp_path):
    torch.manual_seed(2)
    transformers.BertModel(transformers.BertConfig(**TINY)).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="ALBERT"):
        build_transformer_model(checkpoint_path=str(tmp_path), model="albert")


def test_missing_embedding_size_changes_shapes_and_is_reported(mlm_dir):
    path, _ = mlm_dir
    with pytest.raises(CheckpointError, match=r"bert/embeddings/word_embeddings.*\(131, 48\).*\(131, 24\)"):
        build_transformer_model(checkpoint_path=str(path), model="albert", embedding_size=None)


def test_export_to_huggingface_folder_loads_in_transformers(mlm_dir, batch, tmp_path):
    path, hf = mlm_dir
    token_ids, segment_ids = batch
    albert, _, _ = sequence_and_mlm(path, token_ids, segment_ids)
    albert.save_weights_as_huggingface(tmp_path / "export")
    reloaded = transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "export").eval()
    with torch.no_grad():
        expected = hf(**hf_inputs(token_ids, segment_ids)).logits
        actual = reloaded(**hf_inputs(token_ids, segment_ids)).logits
    assert_close(torch_numpy(actual), torch_numpy(expected), atol=1e-6, what="re-exported logits")
