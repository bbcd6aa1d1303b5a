"""Run every script under bert4keras (and, with --both, under kerasformers too) and record the
metrics and wall times in oracle_metrics.json, the reference test_scripts.py compares against.

    .venv/bin/python -m tests.bert4keras_scripts.run_oracle --both [--quick] [script names...]

``--quick`` records the scripts' B4K_QUICK=1 mode (the one `make test` runs) under ``*_quick`` keys.

Wall times depend on the machine's load: record them on a quiet machine, side by side.
"""

import argparse
import json
import os
import platform

from tests.bert4keras_scripts.runner import run

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
RECORD = os.path.join(HERE, "oracle_metrics.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="script names (default: all)")
    parser.add_argument("--both", action="store_true", help="also run under kerasformers (JAX)")
    parser.add_argument("--quick", action="store_true", help="record the B4K_QUICK=1 mode")
    args = parser.parse_args()
    names = args.names or sorted(n[:-3] for n in os.listdir(SCRIPTS) if n.endswith(".py"))
    for name in names:
        script = os.path.join(SCRIPTS, name + ".py")
        suffix = "_quick" if args.quick else ""
        metrics, seconds = run("bert4keras", script, quick=args.quick)
        entry = {
            "bert4keras" + suffix: metrics,
            "bert4keras_seconds" + suffix: round(seconds, 1),
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
        }
        if args.both:
            ours, our_seconds = run("kerasformers", script, quick=args.quick)
            entry.update(
                {"kerasformers" + suffix: ours, "kerasformers_seconds" + suffix: round(our_seconds, 1)}
            )
        entry["load_average" + suffix] = [round(x, 1) for x in os.getloadavg()]
        record = _read()  # re-read: another run may have recorded other scripts meanwhile
        record[name] = {**record.get(name, {}), **entry}
        print(name, json.dumps(entry, ensure_ascii=False), flush=True)
        with open(RECORD + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True, ensure_ascii=False)
        os.replace(RECORD + ".tmp", RECORD)


def _read():
    if not os.path.exists(RECORD):
        return {}
    with open(RECORD, encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    main()
