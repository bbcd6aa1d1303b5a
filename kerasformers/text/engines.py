"""Counting on a Dask cluster (``dask.distributed``): count per batch, merge per shard.

Counting is map-reduce at heart. Here the client reads the corpus and submits each
batch of lines as a task; a worker counts it and splits the counts into ``shards``
disjoint dicts (by a hash that is the same in every process). Finished batches are
merged on the workers, ``fan_in`` at a time, so only a few batches are in flight
and the client holds no counts. The last merge holds the whole table on one
worker; then only the tokens seen ``min_count`` times come back, one shard at a
time. Counts are exact integers, so the result equals the local run's.

The workers need kerasformers installed (tasks refer to functions in this module).
"""

import collections
import contextlib

from kerasformers.text.corpus import batch_lines

__all__ = ["ENGINES", "check_engine", "dask_client", "dask_count", "dask_count_batches"]

ENGINES = ("local", "dask")


def check_engine(engine, scheduler):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if scheduler is not None and engine != "dask":
        raise ValueError("a scheduler address only makes sense with engine='dask'")


@contextlib.contextmanager
def dask_client(scheduler=None, workers=2):
    """A ``distributed.Client``: ``scheduler`` may be a Client (used as is), an address
    such as ``tcp://10.0.0.5:8786``, or None for a local cluster of ``workers``
    single-threaded processes listening on 127.0.0.1 only (closed on exit)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("engine='dask' needs dask.distributed: pip install distributed") from exc
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def shard_of(token, shards):
    """Deterministic across processes (unlike ``hash`` of str) and cheap."""
    return (ord(token[0]) * 31 + ord(token[-1])) % shards


def _count_and_split(batch, count_fn, shards, *extra_args):
    parts = [{} for _ in range(shards)]
    for token, count in count_fn(batch, *extra_args).items():
        parts[shard_of(token, shards)][token] = count
    return parts


def _merge(*split_counts):
    """Sum several shard lists, shard by shard."""
    merged = [collections.Counter() for _ in split_counts[0]]
    for parts in split_counts:
        for total, part in zip(merged, parts):
            total.update(part)
    return [dict(total) for total in merged]


def _frequent(split_counts, shard, min_count):
    """The shard's tokens seen ``min_count`` times, and how many of the others have
    each (length, count): count-of-counts for smoothing."""
    frequent, rare = {}, collections.Counter()
    for token, count in split_counts[shard].items():
        if count >= min_count:
            frequent[token] = count
        else:
            rare[len(token), count] += 1
    return frequent, rare


def dask_count_batches(
    batches, count_fn, client, shards=16, min_count=1, fan_in=8, extra_args=(), rare_counts=None
):
    """Yield ``shards`` disjoint ``{token: count}`` dicts (counts >= min_count) of
    ``count_fn(batch, *extra_args)`` summed over ``batches``, computed on ``client``'s
    workers. ``extra_args`` may hold futures (e.g. scattered data). ``min_count`` may
    be a function, called once every batch is in (when it depends on what was read).
    ``rare_counts`` (a Counter) receives {(token length, count): tokens} of the rest."""
    from distributed import as_completed, wait

    if fan_in < 2:
        raise ValueError(f"fan_in must be >= 2, got {fan_in}")
    in_flight = max(2, 2 * len(client.scheduler_info().get("workers", {})) + 2)
    running, done = as_completed(), []
    for batch in batches:
        running.add(client.submit(_count_and_split, batch, count_fn, shards, *extra_args, pure=False))
        while running.count() >= in_flight:
            done.append(next(running))
            if len(done) >= fan_in:
                running.add(client.submit(_merge, *done, pure=False))
                done = []
    done.extend(running)
    if not done:
        return
    final = client.submit(_merge, *done, pure=False) if len(done) > 1 else done[0]
    wait(final)
    if callable(min_count):
        min_count = min_count()
    for shard in range(shards):
        frequent, rare = client.submit(_frequent, final, shard, min_count, pure=False).result()
        if rare_counts is not None:
            rare_counts.update(rare)
        yield frequent


def dask_count(lines, count_fn, client, batch_chars=1 << 18, shards=16, min_count=1):
    """``{token: count}`` (counts >= min_count) of ``count_fn`` over batches of ``lines``."""
    result = {}
    for part in dask_count_batches(batch_lines(lines, batch_chars), count_fn, client, shards, min_count):
        result.update(part)  # shards are disjoint
    return result
