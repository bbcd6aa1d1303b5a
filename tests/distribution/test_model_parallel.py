"""Megatron-style layouts on 8 simulated CPU devices equal the single-device run.

The devices exist only if the flag is set before JAX starts, so the runs happen in a fresh
process (sharded_script.py); the tests below check its report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("sharded_script.py")


@pytest.fixture(scope="module")
def report():
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_NUM_CPU_DEVICES="8",
        XLA_FLAGS="--xla_force_host_platform_device_count=8",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    run = subprocess.run(
        [sys.executable, str(SCRIPT)], check=False, env=env, capture_output=True, text=True, timeout=1200
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mesh", ["1x8", "2x4", "8x1"])
def test_forward_and_one_training_step_equal_single_device(report, mesh):
    result = report["meshes"][mesh]
    assert result["forward_diff"] <= 1e-5, result
    assert result["moved"] > 0.1  # the SGD step really changed the weights
    assert result["step_diff"] <= 1e-5, result


@pytest.mark.parametrize("mesh", ["1x8", "2x4", "8x1"])
def test_checkpoint_loads_shard_by_shard(report, mesh):
    result = report["meshes"][mesh]
    model_axis = int(mesh.split("x")[1])
    # every value went from host memory straight to its sharding: no array placed on one device first
    assert result["device_put_sources"] == ["host"] and result["device_puts"] == 44
    shards = result["shards"]
    assert shards["Embedding-Token/embeddings"] == [[50, 64 // model_axis]] * 8
    assert shards["Transformer-0-MultiHeadSelfAttention/q_dense/kernel"] == [[64, 64 // model_axis]] * 8
    assert shards["Transformer-0-MultiHeadSelfAttention/o_dense/kernel"] == [[64 // model_axis, 64]] * 8
    assert shards["Transformer-1-FeedForward/i0_dense/kernel"] == [[64, 128 // model_axis]] * 8
    assert shards["Embedding-Norm/gamma"] == [[64]] * 8  # LayerNorms stay replicated


@pytest.mark.parametrize("mesh", ["1x8", "2x4", "8x1"])
def test_parameter_memory_per_device_is_about_one_over_model_axis(report, mesh):
    result = report["meshes"][mesh]
    model_axis = int(mesh.split("x")[1])
    (per_device,) = result["bytes_per_device"]  # every device holds the same amount
    ratio = per_device / result["bytes_total"]
    assert 1 / model_axis <= ratio <= 1.12 / model_axis, ratio  # replicated LayerNorms/biases: the excess


@pytest.mark.parametrize(
    "family",
    [
        "bert",
        "albert",
        "nezha",
        "electra",
        "roformer",
        "roformer_v2",
        "gau_alpha",
        "gpt",
        "gpt2",
        "gpt2_ml",
        "t5.1.1",
    ],
)
def test_every_family_shards_and_matches(report, family):
    result = report["families"][family]
    assert result["diff"] <= 1e-5, result
    assert result["sharded_variables"] >= result["variables"] // 2, result


def test_cached_generation_under_sharding(report):
    result = report["generation"]
    assert result["spec"] == "P(None, 'model')"
    assert result["sharded"] == result["expected"]
