"""Run a bert4keras-style script under bert4keras or, by an import alias, under kerasformers.

    python -m tests.bert4keras_scripts.runner kerasformers tests/bert4keras_scripts/scripts/x.py
    python -m tests.bert4keras_scripts.runner bert4keras   tests/bert4keras_scripts/scripts/x.py

Each script prints one JSON line of metrics last; ``run`` returns it with the wall time.
Under kerasformers a ``sitecustomize``-free alias is installed: ``bert4keras`` and every
``bert4keras.X`` resolve to ``kerasformers.X`` before the script runs, so the file itself is
exactly what a bert4keras user has.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from tests.bert4keras_scripts.data import prepare

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLE_PYTHON = os.environ.get("BERT4KERAS_PYTHON", "/work/.venv-bert4keras/bin/python")
DATA_DIR = os.environ.get("B4K_DATA") or os.path.join(tempfile.gettempdir(), "kerasformers-b4k-data")

ALIAS = """
import importlib, runpy, sys
import kerasformers
for name in ("backend", "layers", "models", "optimizers", "snippets", "tokenizers"):
    sys.modules["bert4keras." + name] = importlib.import_module("kerasformers." + name)
sys.modules["bert4keras"] = kerasformers
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run(framework, script, timeout=3600):
    """Run ``script`` under ``framework``; returns (metrics dict, wall seconds)."""
    prepare(DATA_DIR)
    script = os.path.abspath(script)
    env = dict(os.environ, B4K_DATA=DATA_DIR, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
    if framework == "bert4keras":
        env.update(TF_KERAS="1", TF_USE_LEGACY_KERAS="1")
        command = [ORACLE_PYTHON, script]
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
    lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"{os.path.basename(script)} under {framework} failed (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return json.loads(lines[-1]), seconds


if __name__ == "__main__":
    metrics, seconds = run(sys.argv[1], sys.argv[2])
    print(json.dumps({"metrics": metrics, "seconds": round(seconds, 1)}, ensure_ascii=False))
