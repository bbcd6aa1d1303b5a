"""bert4keras workloads side by side: each bert4keras-style script of tests/bert4keras_scripts/scripts
run under bert4keras 0.11.5 (TF 2.21 + tf-keras) and under kerasformers, interleaved, with the median
wall time of each and the ratio kerasformers / bert4keras (target <= 0.8 on JAX).

    .venv/bin/python bench/bert4keras_workloads.py --rounds 1 [--backends jax torch] [scripts...]
    .venv/bin/python bench/bert4keras_workloads.py --quick   # one short script, one round

Wall time is the whole script as a user runs it: interpreter start, imports, build, train, evaluate.
The machine's load average is printed before and after each run; on a shared machine trust the
ratios of rounds run back to back, not the absolute seconds.
"""

import argparse
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.bert4keras_scripts.runner import run

SCRIPTS = os.path.join(ROOT, "tests", "bert4keras_scripts", "scripts")
QUICK = ["extract_features_model_zoo"]


def _load():
    return round(os.getloadavg()[0], 1)


def _timed(framework, script, backend):
    previous = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = backend or "jax"
    try:
        load_before = _load()
        metrics, seconds = run(framework, script)
    finally:
        if previous is None:
            os.environ.pop("KERAS_BACKEND")
        else:
            os.environ["KERAS_BACKEND"] = previous
    return {"seconds": seconds, "value": metrics["value"], "load": (load_before, _load())}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="script names (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per script")
    parser.add_argument("--backends", nargs="+", default=["jax"], choices=["jax", "torch", "tensorflow"])
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK}, one round")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    names = (
        QUICK
        if args.quick
        else args.names or sorted(n[:-3] for n in os.listdir(SCRIPTS) if n.endswith(".py"))
    )
    rounds = 1 if args.quick else args.rounds
    contenders = [("bert4keras", None)] + [("kerasformers", b) for b in args.backends]
    print(f"cpus={os.cpu_count()} load_at_start={os.getloadavg()}", flush=True)
    rows = []
    for name in names:
        script = os.path.join(SCRIPTS, name + ".py")
        runs = {label: [] for label in contenders}
        for _ in range(rounds):  # interleaved: one run of each contender per round
            for framework, backend in contenders:
                result = _timed(framework, script, backend)
                runs[(framework, backend)].append(result)
                print(
                    f"  {name:32s} {framework}{'/' + backend if backend else '':12s} "
                    f"{result['seconds']:8.1f} s  metric={result['value']:.4g}  load={result['load']}",
                    flush=True,
                )
        reference = statistics.median(r["seconds"] for r in runs[("bert4keras", None)])
        for (framework, backend), results in runs.items():
            seconds = statistics.median(r["seconds"] for r in results)
            rows.append(
                {
                    "script": name,
                    "framework": framework,
                    "backend": backend,
                    "seconds": round(seconds, 1),
                    "ratio": round(seconds / reference, 2),
                    "metric": results[-1]["value"],
                    "load": [r["load"] for r in results],
                }
            )
    print(
        f"\n{'script':32s} {'contender':24s} {'median s':>9s} {'ratio':>6s} {'metric':>10s}  load (before, after)"
    )
    for row in rows:
        contender = row["framework"] + ("/" + row["backend"] if row["backend"] else "")
        print(
            f"{row['script']:32s} {contender:24s} {row['seconds']:9.1f} {row['ratio']:6.2f} "
            f"{row['metric']:10.4g}  {row['load']}"
        )
    if args.json:
        from kerasformers.atomic import atomic_write

        with atomic_write(args.json) as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
