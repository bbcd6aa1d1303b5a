"""bert4keras-style scripts run under kerasformers (import renamed by an alias) and land within
noise of the metric bert4keras itself reached on the same data (oracle_metrics.json, recorded by
run_oracle.py). Models start from different random draws, so "noise" is a per-task tolerance.
"""
import json
import os

import keras
import pytest

from tests.bert4keras_scripts.runner import run

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "oracle_metrics.json"), encoding="utf-8") as f:
    RECORD = json.load(f)
TOLERANCE = {  # absolute, on the script's metric
    "seq2seq_unilm_autotitle": 0.05,
    "sentiment_classification": 0.05,
    "ner_crf": 0.08,
    "language_model_generation": 0.1,
    "extract_features_keep_tokens": 1e-4,
}

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the scripts run on JAX only")


@pytest.mark.parametrize("name", sorted(RECORD))
def test_script_matches_bert4keras(name):
    metrics, seconds = run("kerasformers", os.path.join(HERE, "scripts", name + ".py"))
    reference = RECORD[name]["bert4keras"]
    assert metrics["metric"] == reference["metric"]
    assert metrics["value"] == pytest.approx(reference["value"], abs=TOLERANCE[name]), (
        f"{name}: kerasformers {metrics['value']:.3f} vs bert4keras {reference['value']:.3f} ({seconds:.0f} s)")
