import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).with_name("data_parallel_script.py")


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the script runs on JAX whatever the session's backend: the JAX pass already runs it",
)
def test_data_parallel_on_4_host_devices_matches_single_device():
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    run = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    assert "'batch': 4" in result["sharding"]  # the variables really live on a 4-device mesh
    assert result["moved"] > 1e-3  # training changed the weights
    assert result["diff"] < 1e-5, result
    assert abs(result["single_loss"][-1] - result["parallel_loss"][-1]) < 1e-5
