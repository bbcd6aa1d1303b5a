"""kerasformers reproduces bert4keras 0.11.5 on checkpoints bert4keras itself saved.

Every case in tests/fixtures/bert4keras/manifest.json (made by make_fixtures.py with bert4keras) is
rebuilt with kerasformers' `build_transformer_model` from the same config.json and TF1 checkpoint,
fed the same inputs, and every output is compared: count, order, shape and values.
Cases where kerasformers deliberately differs carry `kerasformers_kwargs` (and possibly
`compare_only_real_decoder_positions`) with a `reason` in the manifest (see docs/migration.md):
the test then checks the bert4keras numbers with those kwargs.
"""

import json
import os

import keras
import numpy as np
import pytest
from keras import ops

from kerasformers.models import build_transformer_model

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "bert4keras")
MANIFEST = os.path.join(FIXTURES, "manifest.json")
RELATIVE_TOLERANCE = 1e-4

with open(MANIFEST, encoding="utf-8") as _handle:
    CASES = json.load(_handle)["cases"]


def build_case(case):
    directory = os.path.join(FIXTURES, case["id"])
    kwargs = dict(case["kwargs"])
    kwargs.update(case.get("kerasformers_kwargs", {}))
    if kwargs.get("layer_norm_cond") == "input":
        condition_shape = np.load(os.path.join(directory, "arrays.npz"))[
            f"input_{len(case['input_names']) - 1}"
        ]
        condition = keras.Input(shape=condition_shape.shape[1:], name="Input-Condition")
        kwargs.update(layer_norm_cond=condition, additional_input_layers=condition)
    return build_transformer_model(
        os.path.join(directory, "config.json"),
        os.path.join(directory, "model.ckpt"),
        model=case["model"],
        application=case["application"],
        return_keras_model=False,
        **kwargs,
    )


def set_conditional_norm_weights(transformer, arrays):
    """bert4keras keeps conditional-LayerNorm projections out of checkpoints: copy them from the fixture."""
    for key in arrays.files:
        if not key.startswith("extra::"):
            continue
        _, layer_name, projection = key.split("::")  # hidden_dense, beta_dense or gamma_dense
        getattr(transformer.layers[layer_name], projection).kernel.assign(arrays[key])


def relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-6))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_matches_bert4keras(case):
    arrays = np.load(os.path.join(FIXTURES, case["id"], "arrays.npz"))
    transformer = build_case(case)
    set_conditional_norm_weights(transformer, arrays)
    model = transformer.model
    input_names = [tensor.name for tensor in model.inputs]
    assert input_names == case["input_names"], f"inputs {input_names} != bert4keras {case['input_names']}"
    inputs = [arrays[f"input_{i}"] for i in range(len(input_names))]
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    assert len(outputs) == len(case["output_shapes"]), (
        f"{len(outputs)} outputs, bert4keras returns {len(case['output_shapes'])} ({case['output_names']})"
    )
    for index, output in enumerate(outputs):
        actual, expected = ops.convert_to_numpy(output), arrays[f"output_{index}"]
        assert list(actual.shape) == list(expected.shape), (
            f"output {index}: shape {actual.shape} != {expected.shape}"
        )
        if case.get("compare_only_real_decoder_positions"):  # see the case's "reason"
            real = inputs[-1] != 0
            actual, expected = actual[real], expected[real]
        error = relative_error(actual, expected)
        assert error <= RELATIVE_TOLERANCE, (
            f"output {index} ({case['output_names'][index]}): relative error {error:.3g}"
        )
