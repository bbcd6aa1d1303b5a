"""Autoregressive generation speed on a GPT-2-small-shaped random model (12 layers, 768
hidden, 12 heads, vocab 50257): kerasformers' cached `generate` on each Keras backend vs
bert4keras-style uncached decoding vs HuggingFace `transformers` `generate()`.

    python bench/generation.py [--new-tokens 128 512] [--batch 1 8] [--backends jax torch tensorflow]
                               [--uncached-tokens 128 512] [--threads 2] [--output docs/benchmarks-generation.md]

How it measures
  * The same random weights for everyone: a `transformers.GPT2LMHeadModel` is created once
    (seed 0) and saved as safetensors; kerasformers loads that file.
  * Prompt: 32 random tokens per row. Greedy decoding of exactly N new tokens (no stop id;
    transformers gets `min_new_tokens=N`). tokens/s = batch × N / wall time, after one
    untimed warm-up call with the same shapes (so JAX compile time is excluded; it is
    reported separately as `first call s`).
  * kerasformers cached: `kerasformers.generation.generate` — KV cache, the whole loop
    compiled with `jax.jit` on JAX, eager on PyTorch / TensorFlow.
  * uncached: bert4keras's way — an `AutoRegressiveDecoder` whose `predict` re-runs the
    full model on the whole prefix every step (`beam_search(topk=1)` = greedy, one
    prompt at a time, as bert4keras decodes), on JAX with the forward jit-compiled per
    64-token length bucket (buckets pre-compiled before timing).
  * transformers: `GPT2LMHeadModel.generate` (PyTorch, KV cache, SDPA attention) under
    `torch.inference_mode()`.
  * One worker process per configuration family; all run one after another on the same
    machine, so compare the ratios, not the absolute numbers, across machines.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo, if not installed
from common import emit_result, machine_info, markdown_table, package_versions, run_worker, write_text_atomic  # noqa: E402

PROMPT = 32
CONFIG = dict(
    vocab_size=50257,
    n_embd=768,
    n_layer=12,
    n_head=12,
    n_positions=1024,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attn_pdrop=0.0,
)


def make_weights(path):
    import torch
    import transformers

    if os.path.exists(os.path.join(path, "model.safetensors")):
        return
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**CONFIG)).eval().save_pretrained(path)


def prompts(batch):
    import numpy as np

    return np.random.default_rng(0).integers(1, CONFIG["vocab_size"], size=(batch, PROMPT)).astype("int32")


# ---------------------------------------------------------------------- workers
def worker_cached(path, cases):
    from kerasformers.generation import generate
    from kerasformers.models import build_transformer_model

    model = build_transformer_model(
        checkpoint_path=path, model="gpt2", final_activation="linear", return_keras_model=False
    )
    results = []
    for batch, new in cases:
        ids = prompts(batch)
        start = time.perf_counter()
        generate(model, ids, max_new_tokens=new)
        first = time.perf_counter() - start
        start = time.perf_counter()
        out = generate(model, ids, max_new_tokens=new)
        seconds = time.perf_counter() - start
        assert out.shape == (batch, new)
        results.append({"batch": batch, "new": new, "tokens_per_s": batch * new / seconds, "first_s": first})
    return results


def worker_uncached(path, cases):
    import jax
    import numpy as np

    from kerasformers.generation import AutoRegressiveDecoder
    from kerasformers.models import build_transformer_model

    model = build_transformer_model(checkpoint_path=path, model="gpt2", final_activation="linear")
    variables = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    forward = jax.jit(lambda ids: model.stateless_call(variables, non_trainable, ids)[0])
    bucket = 64

    def last_logits(ids):
        length = ids.shape[1]
        padded = np.zeros((ids.shape[0], -(-length // bucket) * bucket), "int32")
        padded[:, :length] = ids  # causal: padding after the prefix does not change it
        return np.asarray(forward(padded))[:, length - 1]

    class Uncached(AutoRegressiveDecoder):
        @AutoRegressiveDecoder.wraps(default_rtype="logits")
        def predict(self, inputs, output_ids, states):
            return last_logits(np.concatenate([inputs[0], output_ids], axis=1))

    results = []
    for batch, new in cases:
        for length in range(bucket, PROMPT + new + bucket, bucket):  # compile every bucket first
            forward(np.zeros((1, length), "int32")).block_until_ready()
        decoder = Uncached(start_id=None, end_id=-1, maxlen=new)
        start = time.perf_counter()
        for row in prompts(batch):  # bert4keras decodes one input at a time
            out = decoder.beam_search([row], topk=1)
            assert len(out) == new
        seconds = time.perf_counter() - start
        results.append({"batch": batch, "new": new, "tokens_per_s": batch * new / seconds})
    return results


def worker_transformers(path, cases):
    import torch
    import transformers

    model = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    results = []
    for batch, new in cases:
        ids = torch.tensor(prompts(batch), dtype=torch.long)
        kwargs = dict(
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            pad_token_id=0,
            attention_mask=torch.ones_like(ids),
        )
        with torch.inference_mode():
            model.generate(ids, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})
            start = time.perf_counter()
            out = model.generate(ids, **kwargs)
            seconds = time.perf_counter() - start
        assert out.shape == (batch, PROMPT + new)
        results.append({"batch": batch, "new": new, "tokens_per_s": batch * new / seconds})
    return results


WORKERS = {"cached": worker_cached, "uncached": worker_uncached, "transformers": worker_transformers}


# ---------------------------------------------------------------------- driver
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--uncached-tokens",
        type=int,
        nargs="*",
        default=[128, 512],
        help="uncached decoding is slow: lengths to time it at (batch 1)",
    )
    parser.add_argument("--backends", nargs="+", default=["jax", "torch", "tensorflow"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", default="/tmp/kerasformers-bench-gpt2-small")
    parser.add_argument("--output", default=None)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--cases", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads = str(args.threads)
    os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)

    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        cases = [tuple(int(x) for x in case.split("x")) for case in args.cases.split(",") if case]
        emit_result({"results": WORKERS[args.worker](args.weights, cases)})
        return

    make_weights(args.weights)
    cases = ",".join(f"{b}x{n}" for b in args.batch for n in args.new_tokens)
    uncached_cases = ",".join(f"1x{n}" for n in args.uncached_tokens)
    script = os.path.abspath(__file__)
    common_args = ["--weights", args.weights, "--threads", threads]
    runs = {
        "transformers": run_worker(
            [script, "--worker", "transformers", "--cases", cases, *common_args], env={"KERAS_BACKEND": "jax"}
        )
    }
    for backend in args.backends:
        runs[f"kerasformers cached ({backend})"] = run_worker(
            [script, "--worker", "cached", "--cases", cases, *common_args], env={"KERAS_BACKEND": backend}
        )
    if args.uncached_tokens:
        runs["bert4keras-style uncached (jax)"] = run_worker(
            [script, "--worker", "uncached", "--cases", uncached_cases, *common_args],
            env={"KERAS_BACKEND": "jax"},
        )

    baseline = {(r["batch"], r["new"]): r["tokens_per_s"] for r in runs["transformers"]["results"]}
    cached_jax = {
        (r["batch"], r["new"]): r["tokens_per_s"]
        for r in runs.get("kerasformers cached (jax)", {"results": []})["results"]
    }
    rows = []
    for name, run in runs.items():
        for r in run["results"]:
            key = (r["batch"], r["new"])
            ratio = r["tokens_per_s"] / baseline[key] if key in baseline else float("nan")
            vs_uncached = ""
            if name.startswith("bert4keras") and key in cached_jax:
                vs_uncached = f"cached jax is {cached_jax[key] / r['tokens_per_s']:.1f}× faster"
            first = f"{r['first_s']:.1f}" if "first_s" in r else ""
            rows.append(
                [name, r["batch"], r["new"], f"{r['tokens_per_s']:.1f}", f"{ratio:.2f}×", first, vs_uncached]
            )
    table = markdown_table(
        [
            "implementation",
            "batch",
            "new tokens",
            "tokens/s",
            "vs transformers",
            "first call s (compile)",
            "note",
        ],
        rows,
    )
    info = machine_info()
    versions = package_versions(["keras", "jax", "torch", "tensorflow", "transformers"])
    report = (
        f"## Generation (GPT-2 small shape, prompt {PROMPT}, greedy)\n\n{table}\n\n"
        f"Machine: {info}. Versions: {versions}. Threads: {threads}.\n"
    )
    print(report)
    if args.output:
        write_text_atomic(
            args.output, "# Generation benchmark\n\n" + report + "\nMethod: see `bench/generation.py`.\n"
        )


if __name__ == "__main__":
    main()
