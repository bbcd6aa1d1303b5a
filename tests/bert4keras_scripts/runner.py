"""Run a bert4keras-style script under bert4keras or, by an import alias, under kerasformers.

    python -m tests.bert4keras_scripts.runner kerasformers tests/bert4keras_scripts/scripts/x.py [--quick]
    python -m tests.bert4keras_scripts.runner bert4keras   tests/bert4keras_scripts/scripts/x.py [--quick]

Each script prints one JSON line of metrics last; ``run`` returns it with the wall time.
Under kerasformers ``bert4keras`` and every ``bert4keras.X`` resolve to ``kerasformers.X`` before
the script runs, so the file itself is exactly what a bert4keras user has. ``quick`` sets
``B4K_QUICK=1``: every script then trains on a slice of its data for `make test`.

``run_here`` runs a script inside the calling process (which must already use Keras on JAX):
it skips the ~6-10 s of importing Keras per script that a subprocess pays.
"""

import contextlib
import importlib
import io
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time

from tests.bert4keras_scripts.data import prepare

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLE_PYTHON = os.environ.get("BERT4KERAS_PYTHON", "/work/.venv-bert4keras/bin/python")
DATA_DIR = os.environ.get("B4K_DATA") or os.path.join(tempfile.gettempdir(), "kerasformers-b4k-data")
MODULES = ("backend", "layers", "models", "optimizers", "snippets", "tokenizers")

ALIAS = f"""
import importlib, runpy, sys
import kerasformers
for name in {MODULES!r}:
    sys.modules["bert4keras." + name] = importlib.import_module("kerasformers." + name)
sys.modules["bert4keras"] = kerasformers
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# bert4keras targeted Keras 2.3, where an unseeded initializer drew new values at every call. The
# oracle runs on tf-keras 2.21, whose unseeded initializers are stateless: one instance returns the
# same values each call, so bert4keras's MultiHeadAttention (one kernel_initializer for q, k, v and
# o) and FeedForward would start with identical kernels and every from-scratch script would train a
# crippled model. Unseeded initializers get Keras 2.3's stateful draws back (tf.random ops, which
# follow the graph seed that keras.utils.set_random_seed sets).
ORACLE_PRELUDE = """
import runpy, sys
from tf_keras.src import backend

_init = backend.RandomGenerator.__init__


def __init__(self, seed=None, rng_type=None, **kwargs):
    if seed is None and rng_type == self.RNG_STATELESS:
        rng_type = self.RNG_LEGACY_STATEFUL
    _init(self, seed, rng_type, **kwargs)


backend.RandomGenerator.__init__ = __init__
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _metrics(stdout, script, framework, detail):
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{os.path.basename(script)} under {framework} printed no metrics:\n{detail}")
    return json.loads(lines[-1])


def run(framework, script, quick=False, timeout=3600):
    """Run ``script`` under ``framework`` in a subprocess; returns (metrics dict, wall seconds)."""
    prepare(DATA_DIR)
    script = os.path.abspath(script)
    env = dict(os.environ, B4K_DATA=DATA_DIR, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
    env["B4K_QUICK"] = "1" if quick else "0"
    if framework == "bert4keras":
        env.update(TF_KERAS="1", TF_USE_LEGACY_KERAS="1")
        command = [ORACLE_PYTHON, "-c", ORACLE_PRELUDE, script]
    elif framework == "kerasformers":
        env.setdefault("KERAS_BACKEND", "jax")
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        command = [sys.executable, "-c", ALIAS, script]
    else:
        raise ValueError(f"framework must be bert4keras or kerasformers, got {framework!r}")
    with tempfile.TemporaryDirectory() as workdir:  # scripts may save weights in the cwd
        start = time.perf_counter()
        result = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        seconds = time.perf_counter() - start
    detail = f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    if result.returncode != 0:
        raise RuntimeError(f"{os.path.basename(script)} under {framework} failed ({detail})")
    return _metrics(result.stdout, script, framework, detail), seconds


def run_here(script, quick=False):
    """Run ``script`` under kerasformers in this process; returns (metrics dict, wall seconds)."""
    import keras

    prepare(DATA_DIR)
    script = os.path.abspath(script)
    saved_modules = {
        name: sys.modules.get(name) for name in ["bert4keras"] + ["bert4keras." + m for m in MODULES]
    }
    saved_env = {name: os.environ.get(name) for name in ("B4K_DATA", "B4K_QUICK")}
    saved_cwd, saved_argv = os.getcwd(), sys.argv
    sys.modules["bert4keras"] = importlib.import_module("kerasformers")
    for name in MODULES:
        sys.modules["bert4keras." + name] = importlib.import_module("kerasformers." + name)
    os.environ.update(B4K_DATA=DATA_DIR, B4K_QUICK="1" if quick else "0")
    stdout = io.StringIO()
    keras.backend.clear_session()
    try:
        with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(stdout):
            os.chdir(workdir)
            sys.argv = [script]
            start = time.perf_counter()
            runpy.run_path(script, run_name="__main__")
            seconds = time.perf_counter() - start
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        keras.backend.clear_session()
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return _metrics(stdout.getvalue(), script, "kerasformers", stdout.getvalue()[-2000:]), seconds


if __name__ == "__main__":
    metrics, seconds = run(sys.argv[1], sys.argv[2], quick="--quick" in sys.argv[3:])
    print(json.dumps({"metrics": metrics, "seconds": round(seconds, 1)}, ensure_ascii=False))
