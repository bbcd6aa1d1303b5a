"""Build + load of a BERT-base-shaped checkpoint: peak memory and time, kerasformers on JAX, PyTorch and
TensorFlow (TF1, safetensors, pytorch_model.bin) side by side with `transformers.from_pretrained`.

    python bench/loading.py [--quick] [--repeats 3] [--backends jax torch tensorflow]
                            [--formats tf1 safetensors torch] [--threads 2] [--old-path]

How it measures
  * A random BERT-base-shaped model (110 M parameters; `--quick`: a 2-layer, hidden-64 one) is
    written once to a temp dir as `model.safetensors`, `pytorch_model.bin` and a TF1 checkpoint.
  * Every measurement is a fresh subprocess. After its imports and one tiny backend operation (so
    the framework's runtime is up), the worker resets the RSS high-water mark (/proc/self/clear_refs)
    and runs `build_transformer_model(checkpoint_path=...)` (kerasformers) or
    `BertModel.from_pretrained(dir)` (transformers, PyTorch). peak = high-water mark − RSS at that
    point; **peak ratio = peak / size of the weights file** (the TF1 `.data-*` file, the
    `.safetensors`, the `.bin`). load time = wall time of that one call.
  * Rounds are interleaved (every contender once per round, the same order each round) and the
    tables give the median over rounds, so all contenders see the same machine load.
  * transformers cannot read a TF1 checkpoint without TensorFlow; the TF1 rows are compared with
    its safetensors load of the same weights.
  * `--old-path` adds the previous way (build with random initial values, then assign the checkpoint).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # run from a checkout
sys.path.insert(0, HERE)

from common import MB, PeakMemory, emit_result, machine_info, markdown_table, run_worker  # noqa: E402

PEAK_TARGET = 1.3  # peak RSS of build + load / weights file
TIME_TARGET = 1.0  # kerasformers load time / transformers.from_pretrained
SHAPES = {
    "base": dict(
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    ),
    "quick": dict(
        vocab_size=3000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    ),
}
FILES = {"tf1": "tf1", "safetensors": "safetensors", "torch": "bin"}  # format -> subdirectory


def weights_file(directory, fmt):
    """The file whose size a peak is divided by."""
    sub = os.path.join(directory, FILES[fmt])
    if fmt == "tf1":
        return os.path.join(sub, "bert_model.ckpt.data-00000-of-00001")
    return os.path.join(sub, "model.safetensors" if fmt == "safetensors" else "pytorch_model.bin")


def checkpoint_path(directory, fmt):
    sub = os.path.join(directory, FILES[fmt])
    return os.path.join(sub, "bert_model.ckpt") if fmt == "tf1" else sub


# ---------------------------------------------------------------------- workers
def prepare_worker(args):
    """Write the random model in the three formats (transformers for HF, kerasformers for TF1)."""
    import numpy as np
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(**SHAPES[args.shape])
    model = transformers.BertModel(config)
    with torch.no_grad():  # weights and biases std 0.2, LayerNorm gains near 1: nothing is a constant
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape) * 0.2
            parameter.copy_(1.0 + noise if name.endswith("LayerNorm.weight") else noise)
    model.save_pretrained(os.path.join(args.dir, "safetensors"))
    os.makedirs(os.path.join(args.dir, "bin"))
    torch.save(model.state_dict(), os.path.join(args.dir, "bin", "pytorch_model.bin"))
    config.to_json_file(os.path.join(args.dir, "bin", "config.json"))
    del model

    from kerasformers.models import build_transformer_model

    transformer = build_transformer_model(
        checkpoint_path=os.path.join(args.dir, "safetensors"), with_pool=True, return_keras_model=False
    )
    os.makedirs(os.path.join(args.dir, "tf1"))
    transformer.save_weights_as_checkpoint(os.path.join(args.dir, "tf1", "bert_model.ckpt"))
    with open(os.path.join(args.dir, "tf1", "bert_config.json"), "w", encoding="utf-8") as handle:
        json.dump(SHAPES[args.shape] | {"type_vocab_size": 2, "hidden_act": "gelu"}, handle)
    parameters = int(sum(np.prod(v.shape) for v in transformer.model.weights))
    emit_result({"parameters": parameters})


def kerasformers_worker(args):
    import keras
    import numpy as np

    from kerasformers.models import build_transformer_model

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(args.threads)
    np.asarray(keras.ops.convert_to_numpy(keras.ops.ones((2,)) + 1))  # start the backend's runtime
    path = checkpoint_path(args.dir, args.format)
    config = os.path.join(os.path.dirname(path), "bert_config.json") if args.format == "tf1" else None
    config = config or os.path.join(path, "config.json")
    with PeakMemory() as memory:
        start = time.perf_counter()
        if args.contender == "old-path":  # random initial values first, then the checkpoint assigned
            transformer = build_transformer_model(config, with_pool=True, return_keras_model=False)
            transformer.load_weights_from_checkpoint(path)
        else:
            build_transformer_model(config, path, with_pool=True)
        seconds = time.perf_counter() - start
    emit_result({"seconds": seconds, "peak_bytes": memory.bytes, "exact_peak": memory.exact})


def transformers_worker(args):
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    torch.ones(2).add_(1)
    # Touching the class imports the modeling code (lazy in transformers) before the baseline.
    model_class = transformers.BertModel
    with PeakMemory() as memory:
        start = time.perf_counter()
        model_class.from_pretrained(checkpoint_path(args.dir, args.format))
        seconds = time.perf_counter() - start
    emit_result({"seconds": seconds, "peak_bytes": memory.bytes, "exact_peak": memory.exact})


# ---------------------------------------------------------------------- parent
def run(args):
    env = {
        "OMP_NUM_THREADS": str(args.threads),
        "TF_NUM_INTRAOP_THREADS": str(args.threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "HF_HUB_OFFLINE": "1",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={args.threads}",
    }
    script = os.path.abspath(__file__)
    shape = "quick" if args.quick else "base"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kf-loading-") as directory:
        print(f"writing a random {shape}-shaped checkpoint to {directory} ...", flush=True)
        prepared = run_worker(
            [script, "--worker", "prepare", "--dir", directory, "--shape", shape],
            env={**env, "KERAS_BACKEND": "jax"},
        )
        sizes = {fmt: os.path.getsize(weights_file(directory, fmt)) for fmt in FILES}
        contenders = [("transformers", "torch", fmt) for fmt in args.formats if fmt != "tf1"]
        kinds = ["deferred"] + (["old-path"] if args.old_path else [])
        contenders += [(kind, b, fmt) for fmt in args.formats for b in args.backends for kind in kinds]
        if "tf1" in args.formats and "safetensors" not in args.formats:
            contenders.insert(0, ("transformers", "torch", "safetensors"))
        results = {key: [] for key in contenders}
        for round_index in range(args.repeats):
            print(f"round {round_index + 1}/{args.repeats}", flush=True)
            for kind, backend, fmt in contenders:
                worker = "transformers" if kind == "transformers" else "kerasformers"
                flags = ["--worker", worker, "--dir", directory, "--format", fmt, "--contender", kind]
                flags += ["--threads", str(args.threads)]
                result = run_worker([script, *flags], env={**env, "KERAS_BACKEND": backend})
                results[(kind, backend, fmt)].append(result)
                peak = result["peak_bytes"] / sizes[fmt]
                print(f"  {kind} {backend} {fmt}: {result['seconds']:.2f} s, peak {peak:.2f}x", flush=True)
    load_after = os.getloadavg()[0]
    print(report(args, prepared["parameters"], sizes, results, (load_before, load_after)))


def _median(runs, field):
    return statistics.median(run[field] for run in runs)


def report(args, parameters, sizes, results, loads):
    def hf_seconds(fmt):
        key = ("transformers", "torch", "safetensors" if fmt == "tf1" else fmt)
        return _median(results[key], "seconds") if key in results else float("nan")

    rows = []
    for (kind, backend, fmt), runs in results.items():
        peak = _median(runs, "peak_bytes")
        seconds = _median(runs, "seconds")
        name = "transformers (PyTorch)" if kind == "transformers" else f"kerasformers {backend}"
        if kind == "old-path":
            name += " (build, then assign)"
        rows.append(
            [
                name,
                fmt,
                f"{sizes[fmt] / MB:.0f}",
                f"{peak / MB:.0f}",
                f"{peak / sizes[fmt]:.2f}",
                f"{seconds:.2f}",
                f"{seconds / hf_seconds(fmt):.2f}",
            ]
        )
    headers = ["contender", "format", "file MB", "peak MB", "peak / file", "load s", "load / transformers"]
    machine = machine_info()
    exact = all(run["exact_peak"] for runs in results.values() for run in runs)
    lines = [
        f"{'quick shape' if args.quick else 'BERT-base shape'}: {parameters / 1e6:.1f} M parameters; "
        f"median of {args.repeats} interleaved round(s); targets: peak / file ≤ {PEAK_TARGET}, "
        f"load / transformers ≤ {TIME_TARGET} (TF1 rows: against transformers' safetensors load).",
        "",
        markdown_table(headers, rows),
        "",
        f"{machine['cpu']}, {machine['cores']} cores, {args.threads} thread(s) per framework; "
        f"1-minute load average {loads[0]:.1f} before, {loads[1]:.1f} after.",
    ]
    if not exact:
        lines.append("(The RSS high-water mark could not be reset here, so peaks include the imports.)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny 2-layer shape, one round (smoke test)")
    parser.add_argument(
        "--repeats", type=int, default=None, help="interleaved rounds (default 3; --quick: 1)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads per framework")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["jax", "torch", "tensorflow"],
        choices=["jax", "torch", "tensorflow"],
    )
    parser.add_argument("--formats", nargs="+", default=list(FILES), choices=list(FILES))
    parser.add_argument("--old-path", action="store_true", help="also measure build-then-assign")
    parser.add_argument(
        "--worker", choices=["prepare", "kerasformers", "transformers"], help=argparse.SUPPRESS
    )
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--shape", choices=list(SHAPES), help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=list(FILES), help=argparse.SUPPRESS)
    parser.add_argument("--contender", default="deferred", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    workers = {
        "prepare": prepare_worker,
        "kerasformers": kerasformers_worker,
        "transformers": transformers_worker,
    }
    if args.worker:
        workers[args.worker](args)
    else:
        run(args)


if __name__ == "__main__":
    main()
