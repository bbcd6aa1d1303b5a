"""UniLM and GPT objectives: the right attention masks, and the loss falls on real text."""

import json

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.pretraining.data import PretrainingData
from kerasformers.pretraining.model import (
    bert_config,
    build_pretraining_model,
    compile_for_pretraining,
    masked_crossentropy,
)
from kerasformers.pretraining.prepare import prepare_corpus


@pytest.mark.parametrize("objective", ["gpt", "unilm"])
def test_objective_masks_and_learning(objective, tmp_path, corpus_file, corpus_vocab):
    token_dict = corpus_vocab[0]
    prepare_corpus([corpus_file], str(tmp_path / "rows"), token_dict, 32, objective)
    config = bert_config(
        len(token_dict),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        dropout=0.0,
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    keras.utils.set_random_seed(0)
    _, model = build_pretraining_model(str(tmp_path / "config.json"), objective)
    data = PretrainingData(str(tmp_path / "rows"), 8, seed=0, steps_per_epoch=8)
    (token_ids, segment_ids), labels = data[0]

    # Changing the last target token must not change what the model predicts for earlier targets.
    changed = token_ids.copy()
    last = (token_ids > 0).sum(axis=1) - 2  # the token before the final [SEP]
    rows = np.arange(len(changed))
    changed[rows, last] = np.where(changed[rows, last] == 5, 6, 5)
    before = model.predict([token_ids, segment_ids], verbose=0)
    after = model.predict([changed, segment_ids], verbose=0)
    for row, position in enumerate(last):
        np.testing.assert_allclose(after[row, :position], before[row, :position], atol=1e-5)
        assert not np.allclose(after[row, position], before[row, position])
    if objective == "unilm":  # the source segment attends both ways: a late source token is seen early
        source = changed.copy()
        first_target = np.argmax(segment_ids == 1, axis=1)
        source[rows, first_target - 2] = np.where(source[rows, first_target - 2] == 5, 6, 5)
        moved = model.predict([source, segment_ids], verbose=0)
        assert not np.allclose(moved[:, 1], before[:, 1])

    compile_for_pretraining(model, 3e-3, total_steps=16, warmup_steps=2)
    initial = float(masked_crossentropy(labels, before))
    model.fit(data, epochs=2, verbose=0)
    final = float(masked_crossentropy(labels, model.predict([token_ids, segment_ids], verbose=0)))
    assert final < initial - 0.5, (initial, final)


def test_cli_errors_are_clear(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["pretrain", "bert"])
    assert result.exit_code == 1 and "give --preset or at least one --corpus" in result.output
    result = runner.invoke(app, ["pretrain", "bert", "--preset", "no-such-model"])
    assert result.exit_code == 1 and "unknown preset 'no-such-model'" in result.output
    result = runner.invoke(
        app,
        [
            "pretrain",
            "bert",
            "--corpus",
            str(tmp_path / "none.txt"),
            "--output",
            str(tmp_path / "out"),
            "--base-vocab",
            str(tmp_path / "v.txt"),
        ],
    )
    assert result.exit_code == 1 and "base vocabulary not found" in result.output
