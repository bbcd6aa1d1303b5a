"""Roofline of the encoder: how close kerasformers gets to the machine's GEMM peak, per backend.

    python bench/roofline.py [--quick] [--repeats 5] [--threads 2] [--shapes minilm bert-base]
                             [--backends jax tensorflow torch]

For each Keras backend (one worker subprocess each) and each model shape it measures, in the
same process and interleaved (gemm, kf forward, hf forward, kf step, hf step, gemm, ...):
  * the GEMM peak: float32 (B·T × hidden) · (hidden × intermediate), the model's biggest product,
    through the backend's own compiled matmul (jax.jit, tf.function(jit_compile), torch.matmul);
    The machine's peak is the better of that and torch's matmul in the same worker: on a CPU
    where oneDNN outruns XLA's GEMM, "% of the backend's own peak" flatters JAX and TensorFlow,
    so both percentages are printed;
  * the encoder forward (batch × length random ids, random weights, no checkpoint needed);
  * one training step: forward + backward + AdamW (kerasformers: `model.train_on_batch` with an
    MSE loss on the sequence output; transformers: the same loss, `loss.backward()`,
    `torch.optim.AdamW.step()`).
`transformers.BertModel` (PyTorch) of the same shape runs in every worker as the yardstick, and
torch's matmul peak is its roofline. FLOPs count the matrix products only (2·m·n·k each):
forward = B·T·L·(8H² + 4H·I + 4T·H) + the MLM-free embedding-free rest ignored; a training
step counts 3× the forward. Reported: median ms, GFLOP/s, % of that backend's GEMM peak, ratio
to transformers, and the load average before and after (the machine is shared: say so).
Each contender gets a 0.5 s pause (``--settle``) and one untimed call before every timed call.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from common import emit_result, machine_info, markdown_table, run_backend_workers

SHAPES = {  # hidden, layers, heads, intermediate, vocab
    "minilm": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "vocab_size": 30522,
    },
    "bert-base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "vocab_size": 30522,
    },
    "tiny": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "vocab_size": 5000,
    },
}
TARGETS = {
    "forward": {"jax": 0.90, "tensorflow": 0.90, "torch": 1.0},  # % of peak, or × transformers
    "train": {"jax": 0.75, "tensorflow": 0.75, "torch": 0.8},
}


def forward_flops(shape, batch, length):
    h, i, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    return 2.0 * batch * length * layers * (4 * h * h + 2 * h * i + 2 * length * h)


# ---------------------------------------------------------------------- worker
def gemm_function(backend, m, k, n):
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype="float32"), rng.standard_normal((k, n), dtype="float32")
    if backend == "jax":
        import jax

        a, b = jax.device_put(a), jax.device_put(b)
        product = jax.jit(lambda x, y: x @ y)
        return lambda: product(a, b).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        a, b = tf.constant(a), tf.constant(b)
        product = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=True)
        return lambda: product(a, b).numpy()
    import torch

    a, b = torch.from_numpy(a), torch.from_numpy(b)
    return lambda: torch.matmul(a, b)


def kerasformers_functions(backend, shape, token_ids, segment_ids):
    import keras
    import numpy as np

    from kerasformers.models import build_transformer_model

    model = build_transformer_model(None, None, model="bert", hidden_act="gelu", max_position=512, **shape)
    inputs = [token_ids, segment_ids]
    if backend == "jax":
        import jax

        jitted = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])

        def forward():
            return jitted(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                inputs,
            ).block_until_ready()
    elif backend == "tensorflow":
        import tensorflow as tf

        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        tensors = [tf.constant(token_ids), tf.constant(segment_ids)]

        def forward():
            return xla(tensors).numpy()
    else:
        import torch

        tensors = [torch.from_numpy(token_ids), torch.from_numpy(segment_ids)]

        def forward():
            with torch.inference_mode():
                return model(tensors, training=False)

    model.compile(optimizer=keras.optimizers.AdamW(1e-5), loss="mse", jit_compile=backend != "torch")
    target = np.zeros(token_ids.shape + (shape["hidden_size"],), "float32")

    def train_step():
        return float(model.train_on_batch(inputs, target))

    return forward, train_step


def transformers_functions(shape, token_ids, segment_ids):
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    config = transformers.BertConfig(
        **shape,
        hidden_act="gelu",
        max_position_embeddings=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = transformers.BertModel(config, add_pooling_layer=False)
    ids, segments = torch.from_numpy(token_ids).long(), torch.from_numpy(segment_ids).long()
    mask = torch.ones_like(ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def forward():
        model.eval()
        with torch.inference_mode():
            return model(input_ids=ids, token_type_ids=segments, attention_mask=mask).last_hidden_state

    def train_step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        out = model(input_ids=ids, token_type_ids=segments, attention_mask=mask).last_hidden_state
        loss = out.pow(2).mean()
        loss.backward()
        optimizer.step()
        return float(loss)

    return forward, train_step


def worker(args):
    import statistics

    import keras
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1000, 4000, size=(args.batch, args.length)).astype("int32")
    segment_ids = np.zeros_like(token_ids)
    results = {}
    for name in args.shapes:
        shape = SHAPES[name]
        m, k, n = args.batch * args.length, shape["hidden_size"], shape["intermediate_size"]
        kf_forward, kf_train = kerasformers_functions(backend, shape, token_ids, segment_ids)
        hf_forward, hf_train = transformers_functions(shape, token_ids, segment_ids)
        contenders = {
            "gemm": gemm_function(backend, m, k, n),
            "torch gemm": gemm_function("torch", m, k, n),
            "kf forward": kf_forward,
            "hf forward": hf_forward,
            "kf train": kf_train,
            "hf train": hf_train,
        }
        for function in contenders.values():  # warm-up: compiles
            function()
            function()
        times = {key: [] for key in contenders}
        for _ in range(args.repeats):  # interleaved, so every contender sees the same load
            for key, function in contenders.items():
                # Let the previous contender's thread pool go idle first (torch's OpenMP and XLA's
                # Eigen workers spin for a while after a parallel region), then run it once
                # untimed: the first JAX training step after a torch one took 8.4 s instead of
                # 5.3 s at BERT-base (the other framework's freed memory, faulted in anew).
                time.sleep(args.settle)
                function()
                start = time.perf_counter()
                function()
                times[key].append(time.perf_counter() - start)
        medians = {key: statistics.median(values) for key, values in times.items()}
        results[name] = {
            "seconds": medians,
            "gemm_flops": 2.0 * m * k * n,
            "forward_flops": forward_flops(shape, args.batch, args.length),
        }
        keras.backend.clear_session()
    emit_result({"backend": backend, "shapes": results})


# ---------------------------------------------------------------------- parent
def report(args, results, load_before, load_after):
    rows = []
    for backend, result in results.items():
        for name, shape in result["shapes"].items():
            s, flops = shape["seconds"], shape["forward_flops"]
            peak = shape["gemm_flops"] / s["gemm"] / 1e9
            torch_peak = shape["gemm_flops"] / s["torch gemm"] / 1e9
            for kind, work in (("forward", flops), ("train", 3 * flops)):
                kf, hf = s[f"kf {kind}"], s[f"hf {kind}"]
                rows.append(
                    [
                        backend,
                        name,
                        kind,
                        f"{peak:.1f}",
                        f"{kf * 1e3:.0f}",
                        f"{work / kf / 1e9:.1f}",
                        f"{100 * work / kf / 1e9 / peak:.0f} %",
                        f"{100 * work / kf / 1e9 / max(peak, torch_peak):.0f} %",
                        f"{hf * 1e3:.0f}",
                        f"{100 * work / hf / 1e9 / torch_peak:.0f} %",
                        f"{kf / hf:.2f}",
                    ]
                )
    headers = [
        "backend",
        "shape",
        "measure",
        "GEMM peak GFLOP/s",
        "kf ms",
        "kf GFLOP/s",
        "kf % of peak",
        "kf % of machine peak",
        "transformers ms",
        "transformers % of torch peak",
        "kf / transformers",
    ]
    machine = machine_info()
    command = (
        "python bench/roofline.py"
        + (" --quick" if args.quick else "")
        + f" --repeats {args.repeats} --threads {args.threads} --batch {args.batch} --length {args.length}"
        f" --shapes {' '.join(args.shapes)} --backends {' '.join(args.backends)}"
    )
    text = "\n".join(
        [
            (
                f"## Roofline: batch {args.batch} × {args.length}, {args.threads} threads, medians of {args.repeats} "
                "interleaved repeats"
            ),
            "",
            (
                f"{machine['cpu']}, {machine['cores']} cores. Load average (1, 5, 15 min) before: "
                f"{', '.join(f'{x:.1f}' for x in load_before)}; after: {', '.join(f'{x:.1f}' for x in load_after)}. "
                "Numbers taken under that load are noisy; the ratios come from interleaved runs in one process."
            ),
            "",
            markdown_table(headers, rows),
            "",
            (
                "Targets: forward ≥ 90 % of the peak on JAX and TensorFlow, ≤ 1.0× transformers on PyTorch; "
                "training step ≥ 75 % of the peak on JAX and TensorFlow, ≤ 0.8× transformers on PyTorch."
            ),
            "",
            "```",
            command,
            "```",
            "",
        ]
    )
    print(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny shape, batch 4 × 32, 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--settle", type=float, default=0.5, help="idle seconds between contenders")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--shapes", nargs="+", default=["minilm", "bert-base"], choices=sorted(SHAPES))
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["jax", "tensorflow", "torch"],
        choices=["jax", "tensorflow", "torch"],
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.shapes, args.batch, args.length, args.repeats = ["tiny"], 4, 32, min(args.repeats, 2)
    if min(args.repeats, args.threads, args.batch, args.length) < 1:
        parser.error("--repeats, --threads, --batch and --length must be at least 1")
    if args.worker:
        return worker(args)
    load_before = os.getloadavg()
    flags = [
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
        "--batch",
        str(args.batch),
        "--length",
        str(args.length),
        "--settle",
        str(args.settle),
        "--shapes",
        *args.shapes,
    ]
    results = run_backend_workers(__file__, flags, args.backends, args.threads)
    return report(args, results, load_before, os.getloadavg())


if __name__ == "__main__":
    main()
