"""bert4keras conventions the model builder keeps (numbers against bert4keras itself are in tests/bert4keras)."""

import os
import warnings

import numpy as np
import pytest

from kerasformers.models import MODELS, build_transformer_model

from .helpers import to_numpy

SMALL = {
    "vocab_size": 30,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 24,
    "max_position": 16,
}
BERT4KERAS_MODEL_KEYS = [
    "bert",
    "albert",
    "albert_unshared",
    "roberta",
    "nezha",
    "roformer",
    "roformer_v2",
    "electra",
    "gpt",
    "gpt2",
    "gpt2_ml",
    "t5",
    "t5_encoder",
    "t5_decoder",
    "t5.1.0",
    "t5.1.0_encoder",
    "t5.1.0_decoder",
    "t5.1.1",
    "t5.1.1_encoder",
    "t5.1.1_decoder",
    "mt5.1.1",
    "mt5.1.1_encoder",
    "mt5.1.1_decoder",
]
TOKENS = np.array([[2, 5, 7, 9, 4, 0], [3, 8, 6, 0, 0, 0]], "int32")
SEGMENTS = np.array([[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0]], "int32")


def test_every_bert4keras_model_key_exists():
    missing = [key for key in BERT4KERAS_MODEL_KEYS if key not in MODELS]
    assert not missing


@pytest.mark.parametrize(
    "key,version", [("t5.1.1_encoder", "t5.1.1"), ("mt5.1.1_decoder", "mt5.1.1"), ("t5_encoder", "t5.1.0")]
)
def test_t5_keys_set_the_version(key, version):
    t5 = build_transformer_model(
        model=key,
        return_keras_model=False,
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=24,
        hidden_act=["gelu", "linear"] if version != "t5.1.0" else "relu",
    )
    assert t5.version == version


@pytest.mark.parametrize("application", ["lm", "unilm"])
def test_lm_and_unilm_switch_the_mlm_head_on(application):
    model = build_transformer_model(application=application, **SMALL)
    probabilities = to_numpy(model([TOKENS, SEGMENTS]))
    assert probabilities.shape == (2, 6, SMALL["vocab_size"])
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    linear = build_transformer_model(application=application, with_mlm="linear", **SMALL)
    assert linear.get_layer("MLM-Activation").activation.__name__ == "linear"


@pytest.mark.parametrize("model", ["electra", "t5"])
def test_lm_application_is_refused_where_bert4keras_refuses_it(model):
    with pytest.raises(ValueError, match="can not be used as application"):
        build_transformer_model(model=model, application="lm", **SMALL)


def test_pool_nsp_mlm_returns_nsp_then_mlm():
    outputs = build_transformer_model(with_pool=True, with_nsp=True, with_mlm=True, **SMALL)(
        [TOKENS, SEGMENTS]
    )
    assert [tuple(o.shape) for o in outputs] == [(2, 2), (2, 6, SMALL["vocab_size"])]


@pytest.mark.parametrize("model", ["gpt2", "gpt2_ml"])
def test_gpt2_takes_token_ids_only_even_with_segments_in_the_config(model):
    keras_model = build_transformer_model(model=model, segment_vocab_size=2, **SMALL)
    assert len(keras_model.inputs) == 1


def test_unknown_option_warns_naming_it_and_strict_raises():
    with pytest.warns(UserWarning, match="with_mlmm"):
        build_transformer_model(with_mlmm=True, **SMALL)
    with pytest.raises(ValueError, match="with_mlmm"):
        build_transformer_model(with_mlmm=True, strict=True, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known config-file keys are read silently
        build_transformer_model(initializer_range=0.02, directionality="bidi", **SMALL)


def test_residual_attention_scores_is_refused_where_unsupported():
    with pytest.raises(ValueError, match="residual_attention_scores"):
        build_transformer_model(
            model="gau_alpha", residual_attention_scores=True, attention_key_size=8, **SMALL
        )
    with pytest.raises(ValueError, match="residual_attention_scores"):
        build_transformer_model(model="t5", residual_attention_scores=True, **SMALL)
    with pytest.raises(ValueError, match="residual_attention_scores"):
        build_transformer_model(model="gpt2", residual_attention_scores=True, **SMALL)


def test_hierarchical_position_reaches_beyond_the_table_and_keeps_its_start():
    rng = np.random.default_rng(0)
    config = {**SMALL, "max_position": 4}
    plain = build_transformer_model(**config)
    hierarchical = build_transformer_model(hierarchical_position=True, **config)
    for weight in plain.weights:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    hierarchical.set_weights(plain.get_weights())
    short = TOKENS[:, :4]
    np.testing.assert_allclose(
        to_numpy(hierarchical([short, SEGMENTS[:, :4]])), to_numpy(plain([short, SEGMENTS[:, :4]])), atol=1e-5
    )
    long_tokens = rng.integers(1, 30, (2, 13)).astype("int32")  # 13 > 4 positions: needs 4 x 4
    assert to_numpy(hierarchical([long_tokens, np.zeros_like(long_tokens)])).shape == (2, 13, 16)


@pytest.mark.parametrize("filename", ["best_model.weights", "model.h5", "weights.weights.h5"])
def test_save_weights_under_bert4keras_file_names(tmp_path, filename):
    model = build_transformer_model(with_mlm=True, **SMALL)
    expected = to_numpy(model([TOKENS, SEGMENTS]))
    path = tmp_path / filename
    model.save_weights(str(path))
    assert sorted(os.listdir(tmp_path)) == [filename]  # written in place, no temporary file left
    fresh = build_transformer_model(with_mlm=True, **SMALL)
    assert np.abs(to_numpy(fresh([TOKENS, SEGMENTS])) - expected).max() > 1e-4
    fresh.load_weights(str(path))
    np.testing.assert_allclose(to_numpy(fresh([TOKENS, SEGMENTS])), expected, atol=1e-6)


def test_model_save_under_a_bert4keras_name(tmp_path):
    model = build_transformer_model(with_pool=True, **SMALL)
    expected = to_numpy(model([TOKENS, SEGMENTS]))
    path = tmp_path / "x.model"
    model.save(str(path))
    model.save(str(path))  # overwriting works too
    assert sorted(os.listdir(tmp_path)) == ["x.model"]
    fresh = build_transformer_model(with_pool=True, **SMALL)
    fresh.load_weights(str(path))
    np.testing.assert_allclose(to_numpy(fresh([TOKENS, SEGMENTS])), expected, atol=1e-6)


def test_load_weights_names_a_missing_file(tmp_path):
    model = build_transformer_model(**SMALL)
    with pytest.raises(FileNotFoundError, match="nothing.weights"):
        model.load_weights(str(tmp_path / "nothing.weights"))
