"""The resumable-training callback with model-parallel (sharded) variables on 8 simulated devices."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).with_name("sharded_resume_script.py")

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="Keras shards variables (ModelParallel) on the JAX backend only"
)


def test_crash_and_resume_under_model_parallel_matches_uninterrupted_run():
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_NUM_CPU_DEVICES="8",
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    run = subprocess.run(
        [sys.executable, str(SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["saved_step"] == 4  # crashed at step 5, last save at step 4: resumed mid-epoch 0
    assert result["diff"] < 1e-6, result
    assert result["restore_sources"] == ["host"] and result["restored"] > 0  # straight into the shards
    assert "P(None, 'model')" in result["specs"] and "P('model', None)" in result["specs"]
    assert "P(None, 'model')" in result["slot_specs"]  # Adam slots are sharded like their weights
