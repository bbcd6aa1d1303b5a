import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasformers.training import TrainingCheckpoint

SCRIPT = Path(__file__).with_name("resume_script.py")


def _env():
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(Path(__file__).parents[2]))
    env.pop("XLA_FLAGS", None)
    return env


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the script runs on JAX whatever the session's backend: the JAX pass already runs it",
)
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    env = _env()
    reference = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(tmp_path / "ref.npz"), str(tmp_path / "ref_out.npz")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ckpt = tmp_path / "run.npz"
    victim = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(ckpt), str(tmp_path / "victim_out.npz"), "--slow"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not ckpt.exists():
        assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "victim_out.npz").exists()
    with np.load(ckpt) as f:
        meta = json.loads(f["meta"].tobytes())
        kernel_at_kill = f["model/0"]
    assert 0 < meta["global_step"] < 24 and 0 < meta["step"] < 8  # killed mid-epoch

    resumed = subprocess.run(
        [sys.executable, str(SCRIPT), str(ckpt), str(tmp_path / "resumed_out.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from epoch" in resumed.stdout
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()[-3000:]

    expected, got = _weights(tmp_path / "ref_out.npz"), _weights(tmp_path / "resumed_out.npz")
    assert len(expected) == len(got) == 5  # 2 dense layers + dropout seed state
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    # The resumed run really trained on after the checkpoint (the comparison is not vacuous).
    assert np.abs(got[0] - kernel_at_kill).max() > 1e-3


def _small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    return model


def test_save_restore_round_trip_includes_optimizer_state(tmp_path):
    keras.utils.set_random_seed(0)
    model = _small_model()
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), batch_size=4, epochs=1, verbose=0)
    ckpt = TrainingCheckpoint(tmp_path / "c.npz")
    ckpt.epoch, ckpt.step, ckpt.global_step = 1, 2, 10
    ckpt.save(model)
    other = _small_model()
    meta = TrainingCheckpoint(tmp_path / "c.npz").restore(other)
    assert (meta["epoch"], meta["step"], meta["global_step"]) == (1, 2, 10)
    for a, b in zip(model.variables, other.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert int(keras.ops.convert_to_numpy(other.optimizer.iterations)) == 2
    for a, b in zip(model.optimizer.variables, other.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert TrainingCheckpoint(tmp_path / "missing.npz").restore(other) is None


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model = _small_model()
    ckpt = TrainingCheckpoint(tmp_path / "c.npz")
    ckpt.save(model)
    before = (tmp_path / "c.npz").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save(model)
    assert (tmp_path / "c.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temp file left


def test_restore_rejects_mismatched_model(tmp_path):
    ckpt = TrainingCheckpoint(tmp_path / "c.npz")
    ckpt.save(_small_model())
    wider = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    wider.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"model variable 0 .* has shape \(3, 4\), checkpoint has \(3, 2\)"):
        ckpt.restore(wider)
    deeper = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="checkpoint has 2 model variables but the model has 4"):
        ckpt.restore(deeper)


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="Keras's PyTorch backend only supports steps_per_execution=1"
)
def test_callback_counts_steps_with_steps_per_execution(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse", steps_per_execution=3)
    ckpt = TrainingCheckpoint(tmp_path / "c.npz", every_n_steps=4)
    model.fit(np.ones((12, 3)), np.zeros((12, 2)), batch_size=2, epochs=2, callbacks=[ckpt], verbose=0)
    assert (ckpt.epoch, ckpt.step, ckpt.global_step) == (1, 6, 12)
    meta = TrainingCheckpoint(tmp_path / "c.npz").restore(model)
    assert (meta["epoch"], meta["step"], meta["global_step"]) == (1, 6, 12)  # saved when crossing 12


def test_fit_resumable_rejects_plain_generators(tmp_path):
    from kerasformers.training import fit_resumable

    model = _small_model()
    stream = ((np.ones((2, 3)), np.zeros((2, 2))) for _ in range(3))
    with pytest.raises(TypeError, match="indexable PyDataset"):
        fit_resumable(model, stream, 1, TrainingCheckpoint(tmp_path / "c.npz"))


def test_restore_removes_temp_files_of_a_killed_save(tmp_path):
    model = _small_model()
    ckpt = TrainingCheckpoint(tmp_path / "c.npz")
    ckpt.save(model)
    (tmp_path / ".tmp-c.npz-abc123.npz").write_bytes(b"half written")
    (tmp_path / "other.txt").write_text("keep me")
    assert TrainingCheckpoint(tmp_path / "c.npz").restore(model) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz", "other.txt"]
