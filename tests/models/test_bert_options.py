"""BERT options bert4keras users rely on: keep_tokens, compound_tokens, prefix, custom positions."""

import json

import numpy as np
import pytest
import torch

from kerasformers.models import build_transformer_model

from .helpers import TINY, assert_close, padded_batch, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    torch.manual_seed(11)
    hf = randomize_parameters(
        transformers.BertForMaskedLM(transformers.BertConfig(**TINY, type_vocab_size=2)).eval()
    )
    path = tmp_path_factory.mktemp("bert_mlm")
    hf.save_pretrained(path)
    return path, hf


def hf_logits(hf, token_ids, segment_ids=None):
    segment_ids = np.zeros_like(token_ids) if segment_ids is None else segment_ids
    with torch.no_grad():
        return torch_numpy(
            hf(
                input_ids=torch.tensor(token_ids, dtype=torch.long),
                token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
                attention_mask=torch.tensor(token_ids != 0, dtype=torch.long),
            ).logits
        )


def test_keep_tokens_selects_rows_and_mlm_columns(mlm_dir):
    path, hf = mlm_dir
    keep = [0, 100, 101, 102, 103] + list(range(5, 60))
    model = build_transformer_model(checkpoint_path=str(path), keep_tokens=keep, with_mlm="linear")
    token_ids_orig, segment_ids = padded_batch([9, 5], 60, seed=12, low=5)
    # Reduced ids: original id k (5 ≤ k < 60) lives at index k in `keep`; pad 0 stays 0.
    new_index = {orig: new for new, orig in enumerate(keep)}
    token_ids = np.vectorize(new_index.get)(token_ids_orig).astype("int32")
    expected = hf_logits(hf, token_ids_orig, segment_ids)[..., keep]
    assert_close(to_numpy(model([token_ids, segment_ids])), expected, what="kept logits")


def test_compound_tokens_are_means_of_their_parts(mlm_dir):
    path, _ = mlm_dir
    compound = [[5, 7], [9, 10, 11]]
    bert = build_transformer_model(
        checkpoint_path=str(path), compound_tokens=compound, return_keras_model=False
    )
    table = to_numpy(bert.layers["Embedding-Token"].embeddings)
    assert table.shape == (TINY["vocab_size"] + 2, TINY["hidden_size"])
    np.testing.assert_allclose(table[-2], table[[5, 7]].mean(0), atol=1e-6)
    np.testing.assert_allclose(table[-1], table[[9, 10, 11]].mean(0), atol=1e-6)


def test_compound_tokens_take_weights_as_in_bert4keras(mlm_dir):
    """bert4keras 0.11.5 also accepts ``(ids, weights)``: a weighted mean of the rows."""
    path, _ = mlm_dir
    compound = [[5], ([5, 7], [3, 1]), ([9, 10], [0.5, 2.0])]
    bert = build_transformer_model(
        checkpoint_path=str(path), compound_tokens=compound, return_keras_model=False
    )
    table = to_numpy(bert.layers["Embedding-Token"].embeddings)
    assert table.shape == (TINY["vocab_size"] + 3, TINY["hidden_size"])
    np.testing.assert_allclose(table[-3], table[5], atol=1e-6)
    np.testing.assert_allclose(table[-2], (3 * table[5] + table[7]) / 4, atol=1e-6)
    np.testing.assert_allclose(table[-1], (0.5 * table[9] + 2 * table[10]) / 2.5, atol=1e-6)


def test_prefix_names_layers_and_still_loads(mlm_dir):
    path, hf = mlm_dir
    bert = build_transformer_model(
        checkpoint_path=str(path), prefix="student-", with_mlm="linear", return_keras_model=False
    )
    assert "student-Transformer-0-MultiHeadSelfAttention" in bert.layers
    token_ids, segment_ids = padded_batch([6, 4], TINY["vocab_size"], seed=13, segments=2)
    assert_close(to_numpy(bert.model([token_ids, segment_ids])), hf_logits(hf, token_ids, segment_ids))


def test_custom_position_ids_match_hf_position_ids(mlm_dir):
    path, hf = mlm_dir
    model = build_transformer_model(checkpoint_path=str(path), custom_position_ids=True, with_mlm="linear")
    token_ids, segment_ids = padded_batch([6, 6], TINY["vocab_size"], seed=14)
    position_ids = np.array([[5, 6, 7, 8, 9, 10], [0, 2, 4, 6, 8, 10]], dtype="int32")
    with torch.no_grad():
        expected = hf(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            position_ids=torch.tensor(position_ids, dtype=torch.long),
        ).logits
    assert_close(to_numpy(model([token_ids, segment_ids, position_ids])), torch_numpy(expected))


def test_pool_activation_and_google_config(tmp_path):
    config = {**TINY, "type_vocab_size": 2, "hidden_act": "gelu"}
    (tmp_path / "bert_config.json").write_text(json.dumps(config))
    model = build_transformer_model(
        str(tmp_path / "bert_config.json"), with_pool="linear", return_keras_model=False
    )
    assert model.layers["Pooler-Dense"].activation.__name__ == "linear"
    assert model.max_position == TINY["max_position_embeddings"]


def test_config_errors_name_the_problem(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"hidden_size": 48}))
    with pytest.raises(ValueError, match="vocab_size"):
        build_transformer_model(str(tmp_path / "bad.json"))
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        build_transformer_model(str(tmp_path / "nowhere.json"))
    with pytest.raises(ValueError, match="unknown model 'bort'"):
        build_transformer_model(str(tmp_path / "bad.json"), model="bort")
    with pytest.raises(ValueError, match="application"):
        build_transformer_model(str(tmp_path / "bad.json"), application="decoder")


def test_sequence_output_carries_the_padding_mask_like_bert4keras():
    """bert4keras's Embedding used mask_zero=True; CRF / pooling downstream rely on the mask."""
    import keras

    from kerasformers.layers import MaskedGlobalAveragePooling1D

    bert = build_transformer_model(
        vocab_size=30,
        hidden_size=12,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=7,
        return_keras_model=False,
    )
    pooled = MaskedGlobalAveragePooling1D()(bert.model.output)
    pool_model = keras.Model(bert.model.inputs, pooled)
    sequence_model = bert.model
    token_ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], dtype="int32")
    segment_ids = np.zeros_like(token_ids)
    sequence = to_numpy(sequence_model([token_ids, segment_ids]))
    expected = np.stack([sequence[0, :3].mean(0), sequence[1].mean(0)])
    np.testing.assert_allclose(to_numpy(pool_model([token_ids, segment_ids])), expected, atol=1e-5)
