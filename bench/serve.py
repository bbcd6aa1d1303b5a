"""Load test of the server on 127.0.0.1: dynamic batching vs one request at a time.

    python bench/serve.py                 # MiniLM embeddings + tiny GPT-2 completions, 256 requests each
    python bench/serve.py --quick         # 48 requests each (what the test suite runs)

Each contender is the same model behind the real HTTP server (uvicorn, FastAPI); only the batching
limits differ: `batched` pads concurrent requests into one forward pass / one decode loop
(max_batch_size 32, max_wait 5 ms), `one-at-a-time` has max_batch_size 1. A fixed number of requests
is sent by `--concurrency` clients, bounded by `--max-seconds`; throughput and p50/p99 latency are
printed side by side. Every padded batch shape is compiled before the clock starts and each server
gets one warm-up round of the same load, so compile time is not measured.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import httpx
import numpy as np

import kerasformers  # noqa: F401
from kerasformers.serving import BackgroundServer, Limits, create_app, load_model

TEXTS = [
    "A man is playing a guitar on the stage.",
    "今天天气很好，我们去公园散步吧。",
    "Share prices dropped steeply once the central bank raised rates.",
    "How do I bake bread at home?",
    "这家酒店的服务态度非常好，下次还会再来。",
    "The cat is sleeping on the warm windowsill.",
]


async def load(url, make_body, path, requests, concurrency, max_seconds):
    latencies, failures = [], 0
    queue = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    stop_at = time.perf_counter() + max_seconds

    async def client(http):
        nonlocal failures
        while not queue.empty() and time.perf_counter() < stop_at:
            i = queue.get_nowait()
            start = time.perf_counter()
            response = await http.post(f"{url}{path}", json=make_body(i))
            latencies.append(time.perf_counter() - start)
            failures += response.status_code != 200

    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {
        "done": len(latencies),
        "failures": failures,
        "rps": len(latencies) / elapsed,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
    }


def warm_up(model, sizes):
    """Compile every padded shape the load can produce (batch sizes are powers of two)."""
    for size in sizes:
        if model.kind == "embeddings":
            model.embed((TEXTS * size)[:size])
            model.embed([TEXTS[3]] * size)  # the shorter length bucket too
        else:
            for _ in model.stream([model.encode("很好的酒店")] * size, 16):
                pass


def run(model, name, path, make_body, args):
    warm_up(model, [1 << k for k in range(6) if 1 << k <= max(args.concurrency, 1)])
    rows = {}
    common = {"max_concurrent": 1024, "timeout_s": 600}  # measure, never refuse
    for label, limits in (
        ("batched", Limits(max_batch_size=32, max_wait_ms=5, **common)),
        ("one-at-a-time", Limits(max_batch_size=1, max_wait_ms=0, **common)),
    ):
        with BackgroundServer(create_app(model, name, limits)) as url:
            asyncio.run(load(url, make_body, path, 2 * args.concurrency, args.concurrency, 600))  # warm-up
            rows[label] = asyncio.run(
                load(url, make_body, path, args.requests, args.concurrency, args.max_seconds)
            )
    print(f"\n{path} ({name}), {args.requests} requests, {args.concurrency} concurrent clients")
    print(f"{'contender':<15}{'done':>6}{'fail':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for label, r in rows.items():
        print(f"{label:<15}{r['done']:>6}{r['failures']:>6}{r['rps']:>9.1f}{r['p50']:>9.0f}{r['p99']:>9.0f}")
    ratio = rows["batched"]["rps"] / rows["one-at-a-time"]["rps"]
    print(f"throughput ratio batched / one-at-a-time: {ratio:.2f}x")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="48 requests per contender")
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120, help="stop sending after this long")
    parser.add_argument("--only", choices=["embeddings", "completions"], help="run one workload")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.concurrency = 48, 16
    results = {}
    if args.only in (None, "embeddings"):
        from tests.serving.folders import minilm_dir

        minilm = load_model(minilm_dir())
        results["embeddings"] = run(
            minilm,
            "minilm",
            "/v1/embeddings",
            lambda i: {"model": "minilm", "input": TEXTS[i % len(TEXTS)]},
            args,
        )
    if args.only in (None, "completions"):
        from tests.serving.folders import write_tiny_gpt2

        with tempfile.TemporaryDirectory() as folder:
            gpt2 = load_model(write_tiny_gpt2(folder))
        results["completions"] = run(
            gpt2,
            "tiny-gpt2",
            "/v1/completions",
            lambda i: {"model": "tiny-gpt2", "prompt": "很好的酒店", "max_tokens": 16, "temperature": 0},
            args,
        )
    return results


if __name__ == "__main__":
    main()
