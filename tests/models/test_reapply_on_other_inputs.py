"""bert4keras's BERT-of-Theseus idiom: ``apply_embeddings`` / ``apply_main_layers`` of two built
models called again on one model's inputs, and the ``input`` / ``output`` attributes it reads."""

import keras
import numpy as np
import pytest

from kerasformers.models import build_transformer_model

CONFIG = dict(
    vocab_size=30,
    hidden_size=16,
    num_attention_heads=2,
    intermediate_size=32,
    hidden_act="gelu",
    max_position=16,
    segment_vocab_size=2,
)


@pytest.mark.parametrize("application", ["encoder", "unilm"])
def test_second_model_blocks_on_first_models_inputs_match_its_own_model(application):
    keras.utils.set_random_seed(0)
    first = build_transformer_model(
        num_hidden_layers=2, prefix="A-", application=application, return_keras_model=False, **CONFIG
    )
    second = build_transformer_model(
        num_hidden_layers=1,
        prefix="B-",
        application=application,
        with_mlm=False,
        return_keras_model=False,
        **CONFIG,
    )
    own = keras.Model(second.inputs, second.layers["B-Transformer-0-FeedForward-Norm"].output)
    inputs = first.inputs
    x = second.apply_embeddings(inputs)  # used to keep the attention bias of second's own inputs
    x = second.apply_main_layers(x, 0)
    rebuilt = keras.Model(inputs, x)  # a graph-disconnected error before the fix

    token_ids = np.array([[2, 5, 7, 3, 0, 0], [2, 9, 3, 4, 6, 3]], dtype="int32")
    segment_ids = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype="int32")
    expected = keras.ops.convert_to_numpy(own([token_ids, segment_ids]))
    got = keras.ops.convert_to_numpy(rebuilt([token_ids, segment_ids]))
    np.testing.assert_allclose(got, expected, atol=1e-6)  # padding (and UniLM) masks follow the new inputs


def test_input_and_output_attributes_are_bert4keras_s():
    single = build_transformer_model(num_hidden_layers=1, return_keras_model=False, **CONFIG)
    assert single.input is single.inputs if len(single.inputs) > 1 else single.inputs[0]
    assert single.output is single.model.output
    assert single.input == single.inputs  # token and segment ids: the list, as in bert4keras
    pooled = build_transformer_model(
        num_hidden_layers=1, with_pool=True, with_mlm=True, return_keras_model=False, **CONFIG
    )
    assert isinstance(pooled.output, list) and len(pooled.output) == 2
