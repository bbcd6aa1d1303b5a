"""bert4keras-style scripts run under kerasformers (import renamed by an alias) and land within
noise of the metric bert4keras itself reached on the same data (oracle_metrics.json, recorded by
run_oracle.py). Models start from different random draws, so "noise" is a per-task tolerance;
scripts without training (weights drawn from their checkpoint names) must match to 1e-4 relative.
"""

import json
import os

import keras
import pytest

from tests.bert4keras_scripts.runner import run

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "oracle_metrics.json"), encoding="utf-8") as f:
    RECORD = json.load(f)
TOLERANCE = {  # pytest.approx arguments for the script's metric
    "seq2seq_unilm_autotitle": {"abs": 0.05},
    "sentiment_classification": {"abs": 0.05},
    "ner_crf": {"abs": 0.08},
    "language_model_generation": {"abs": 0.1},
    "extract_features_keep_tokens": {"abs": 1e-4},
    "extract_features_model_zoo": {"rel": 1e-4},
    "global_pointer_ner": {"abs": 0.08},
}

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="the scripts run on JAX only")


SLOW = {"global_pointer_ner"}  # > 5 min on the loaded 2-core machine: outside `make test`


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in sorted(RECORD)]
)
def test_script_matches_bert4keras(name):
    metrics, seconds = run("kerasformers", os.path.join(HERE, "scripts", name + ".py"))
    reference = RECORD[name]["bert4keras"]
    assert metrics["metric"] == reference["metric"]
    assert metrics["value"] == pytest.approx(reference["value"], **TOLERANCE[name]), (
        f"{name}: kerasformers {metrics['value']:.3f} vs bert4keras {reference['value']:.3f} ({seconds:.0f} s)"
    )
    # Per-model outputs (count, shapes, values), where the script reports them.
    for model, expected in reference.get("outputs", {}).items():
        got = metrics["outputs"][model]
        assert (got["weights"], got["shapes"]) == (expected["weights"], expected["shapes"]), model
        assert got["checksums"] == pytest.approx(expected["checksums"], rel=1e-4), model
        assert got["first"] == pytest.approx(expected["first"], rel=1e-4, abs=1e-5), model
