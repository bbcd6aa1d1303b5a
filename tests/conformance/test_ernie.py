"""ERNIE 1.0 beyond the common checks: no task ids, the pre-training heads, and a BERT checkpoint refused."""

import pytest
import torch

from kerasformers.checkpoints import CheckpointError
from kerasformers.models import build_transformer_model

from ..models.helpers import (
    TINY,
    assert_close,
    hf_inputs,
    padded_batch,
    randomize_parameters,
    to_numpy,
    torch_numpy,
)

transformers = pytest.importorskip("transformers")


def test_ernie_for_pretraining_without_task_ids(tmp_path):
    torch.manual_seed(0)
    config = transformers.ErnieConfig(**TINY, type_vocab_size=3, hidden_act="gelu", use_task_id=False)
    hf = randomize_parameters(transformers.ErnieForPreTraining(config).eval(), std=0.3, gain_std=0.3)
    hf.tie_weights()  # the decoder is the word embedding, as in every ERNIE checkpoint
    hf.save_pretrained(tmp_path)
    token_ids, segment_ids = padded_batch([9, 5, 2], TINY["vocab_size"], segments=3)
    with torch.no_grad():
        expected = hf(**hf_inputs(token_ids, segment_ids))
    nsp, mlm = to_numpy(
        build_transformer_model(
            checkpoint_path=str(tmp_path), model="ernie", with_nsp=True, with_mlm="linear"
        )([token_ids, segment_ids])
    )
    real = token_ids != 0
    assert_close(mlm, torch_numpy(expected.prediction_logits), where=real, what="MLM logits")
    assert_close(
        nsp, torch_numpy(torch.softmax(expected.seq_relationship_logits, -1)), what="NSP probabilities"
    )


def test_bert_checkpoint_is_rejected_naming_the_prefix(tmp_path):
    transformers.BertForMaskedLM(transformers.BertConfig(**TINY)).save_pretrained(tmp_path)
    with pytest.raises(
        CheckpointError, match="not an ERNIE checkpoint.*'ernie.embeddings.word_embeddings.weight'"
    ):
        build_transformer_model(checkpoint_path=str(tmp_path), model="ernie")
