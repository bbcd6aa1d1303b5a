"""A pretraining run killed with SIGKILL and resumed ends exactly like an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from kerasformers.pretraining.train import read_loss_log

from .conftest import copy_work_dir

SCRIPT = Path(__file__).with_name("run_pretraining.py")


def _env():
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(Path(__file__).parents[2]))
    env.pop("XLA_FLAGS", None)
    return env


def _arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "meta"}


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, prepared_work_dir, corpus_file):
    env = _env()
    reference_work = copy_work_dir(prepared_work_dir, tmp_path / "reference")
    victim_work = copy_work_dir(prepared_work_dir, tmp_path / "victim")
    run = [sys.executable, str(SCRIPT)]
    reference = subprocess.Popen(
        [*run, reference_work, str(tmp_path / "reference-model"), corpus_file],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    victim = subprocess.Popen(
        [*run, victim_work, str(tmp_path / "victim-model"), corpus_file, "--slow"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    checkpoint = Path(victim_work) / "training.npz"
    deadline = time.monotonic() + 600  # a generous limit for a loaded machine, not a speed target
    while not checkpoint.exists():
        assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    with np.load(checkpoint) as f:
        killed_at = json.loads(f["meta"].tobytes())["global_step"]
    assert 0 < killed_at < 10

    resumed = subprocess.run(
        [*run, victim_work, str(tmp_path / "victim-model"), corpus_file],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert reference.wait(timeout=900) == 0, reference.stderr.read().decode()[-3000:]

    expected, got = _arrays(Path(reference_work) / "training.npz"), _arrays(checkpoint)
    assert expected.keys() == got.keys() and any(k.startswith("optimizer/") for k in got)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    # The exported models and the loss curves agree too; the log has one line per step, none twice.
    for name in ("model.safetensors", "bert_model.ckpt.data-00000-of-00001"):
        assert (tmp_path / "reference-model" / name).read_bytes() == (
            tmp_path / "victim-model" / name
        ).read_bytes()
    reference_log = read_loss_log(Path(reference_work) / "loss.jsonl")
    resumed_log = read_loss_log(Path(victim_work) / "loss.jsonl")
    assert [e["step"] for e in resumed_log] == list(range(1, 11))
    # (each logged loss is recovered from Keras's running mean, so equal only up to float rounding)
    np.testing.assert_allclose(
        [e["loss"] for e in resumed_log], [e["loss"] for e in reference_log], atol=1e-4
    )
    # The masked-LM loss falls over the ten steps.
    losses = [e["loss"] for e in reference_log]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1, losses
