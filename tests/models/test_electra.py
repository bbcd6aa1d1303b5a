"""ELECTRA parity with HuggingFace `transformers`: discriminator, generator (MLM), TF1 names."""

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
def discriminator_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize_parameters(
        transformers.ElectraForPreTraining(transformers.ElectraConfig(**CONFIG)).eval()
    )
    path = tmp_path_factory.mktemp("electra_discriminator")
    model.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def batch():
    return padded_batch([11, 7, 3], TINY["vocab_size"], segments=3)


def discriminator_outputs(path, token_ids, segment_ids, **kwargs):
    electra = build_transformer_model(
        checkpoint_path=str(path),
        model="electra",
        with_discriminator=True,
        return_keras_model=False,
        **kwargs,
    )
    encoder = keras.Model(
        electra.model.inputs, electra.model.get_layer("Transformer-1-FeedForward-Norm").output
    )
    probs = to_numpy(electra.model([token_ids, segment_ids]))[..., 0]
    return electra, to_numpy(encoder([token_ids, segment_ids])), probs


def test_electra_for_pretraining_parity(discriminator_dir, batch):
    path, hf = discriminator_dir
    token_ids, segment_ids = batch
    with torch.no_grad():
        out = hf(**hf_inputs(token_ids, segment_ids), output_hidden_states=True)
    _, sequence, probs = discriminator_outputs(path, token_ids, segment_ids)
    real = token_ids != 0
    assert_close(sequence, torch_numpy(out.hidden_states[-1]), where=real, what="sequence")
    assert_close(probs, torch_numpy(torch.sigmoid(out.logits)), where=real, what="discriminator")


def test_tf1_names_load_to_the_same_outputs(discriminator_dir, batch, tmp_path):
    path, _ = discriminator_dir
    token_ids, segment_ids = batch
    electra, sequence, probs = discriminator_outputs(path, token_ids, segment_ids)
    prefix = str(tmp_path / "electra_model.ckpt")
    electra.save_weights_as_checkpoint(prefix)
    names = set(open_checkpoint(prefix).keys())
    layout = original_layout("electra")
    # the original names, plus the mapping our factorised embedding needs
    assert names == layout | {"electra/embeddings_project/kernel", "electra/embeddings_project/bias"}
    config = tmp_path / "electra_config.json"
    config.write_text(json.dumps(CONFIG))
    _, sequence2, probs2 = discriminator_outputs(prefix, token_ids, segment_ids, config_path=str(config))
    assert_close(sequence2, sequence, atol=1e-6, what="sequence")
    assert_close(probs2, probs, atol=1e-6, what="discriminator")


def test_generator_checkpoint_through_the_mlm_head(tmp_path, batch):
    torch.manual_seed(1)
    hf = randomize_parameters(
        transformers.ElectraForMaskedLM(transformers.ElectraConfig(**CONFIG)).eval(), seed=1
    )
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = batch
    with torch.no_grad():
        logits = torch_numpy(hf(**hf_inputs(token_ids, segment_ids)).logits)
    model = build_transformer_model(checkpoint_path=str(tmp_path), model="electra", with_mlm="linear")
    assert_close(
        to_numpy(model([token_ids, segment_ids])), logits, where=token_ids != 0, what="generator logits"
    )


def test_bert_checkpoint_is_rejected_naming_the_variables(tmp_path):
    torch.manual_seed(2)
    # (a bare BertModel has exactly ElectraModel's names, so use one with the ``bert.`` prefix)
    transformers.BertForMaskedLM(transformers.BertConfig(**TINY)).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="not an ELECTRA checkpoint.*bert.embeddings"):
        build_transformer_model(checkpoint_path=str(tmp_path), model="electra")


def test_export_to_huggingface_folder_loads_in_transformers(discriminator_dir, batch, tmp_path):
    path, hf = discriminator_dir
    token_ids, segment_ids = batch
    electra, _, _ = discriminator_outputs(path, token_ids, segment_ids)
    electra.save_weights_as_huggingface(tmp_path / "export")
    reloaded = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "export").eval()
    with torch.no_grad():
        expected = hf(**hf_inputs(token_ids, segment_ids)).logits
        actual = reloaded(**hf_inputs(token_ids, segment_ids)).logits
    assert_close(torch_numpy(actual), torch_numpy(expected), atol=1e-6, what="re-exported logits")
