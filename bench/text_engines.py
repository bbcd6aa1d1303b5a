"""Local processes vs a Dask cluster for kerasformers.text counting and discovery.

    python bench/text_engines.py                 # 20 MB of People's Daily text, 3 repeats
    python bench/text_engines.py --quick         # 2 MB, 1 repeat (smoke run)
    python bench/text_engines.py --megabytes 1 --tasks count2 discover

Contenders, side by side (median wall seconds over --repeats, ratio to one local
process; every contender's result is checked equal to the local one):

* local, 1 process;
* local, --workers processes (``parallel_apply``, the parent merges);
* dask, a LocalCluster of --workers single-threaded processes on 127.0.0.1 (the
  cluster is started once, its start-up time is printed apart: a real cluster is
  long-lived).

The corpus is the raw People's Daily January 1998 text repeated to --megabytes.
"""

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from word_count import make_corpus

from kerasformers.text import count_tokens, discover_words, iter_lines


def median_seconds(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def tasks(path, workers):
    """key -> (name, function(engine, workers, scheduler) -> comparable result)."""

    def count(n):
        def run(engine, w, scheduler=None):
            return count_tokens(
                iter_lines(path), "ngram", n, workers=w, engine=engine, scheduler=scheduler
            ).to_dict()

        return run

    def discover(engine, w, scheduler=None):
        return discover_words(path, workers=w, engine=engine, scheduler=scheduler)

    return {
        "count2": ("count n-grams 1..2", count(2)),
        "count4": ("count n-grams 1..4", count(4)),
        "discover": ("discover (defaults)", discover),
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 MB, 1 repeat")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=["count2", "count4", "discover"],
        default=["count2", "count4", "discover"],
    )
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.repeats = 2, 1

    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        path, size = make_corpus(tmp, args.megabytes)
        print(
            f"corpus: {size:.1f} MB; median of {args.repeats}; {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        start = time.perf_counter()
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            print(
                f"dask LocalCluster with {args.workers} workers started in {time.perf_counter() - start:.1f} s"
            )
            print(
                f"{'task':22s} {'local 1 proc s':>15s} {f'local {args.workers} procs s':>16s} "
                f"{f'dask {args.workers} workers s':>17s} {'local/dask':>11s}"
            )
            for name, run in (tasks(path, args.workers)[task] for task in args.tasks):
                one, reference = median_seconds(functools.partial(run, "local", 1), args.repeats)
                many, result = median_seconds(functools.partial(run, "local", args.workers), args.repeats)
                if result != reference:
                    raise AssertionError(f"{name}: local {args.workers} processes differ from 1 process")
                on_dask, result = median_seconds(
                    functools.partial(run, "dask", args.workers, client), args.repeats
                )
                if result != reference:
                    raise AssertionError(f"{name}: dask result differs from the local one")
                print(f"{name:22s} {one:15.2f} {many:16.2f} {on_dask:17.2f} {many / on_dask:10.2f}x")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
