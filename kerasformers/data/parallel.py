"""Run a function over an iterable with a pool of processes or threads.

bert4keras's ``parallel_apply`` / ``parallel_apply_generator`` with the same names
and arguments. What this version guarantees:

* bounded memory: at most ``max_queue_size + workers`` items are in flight, so a
  huge (or endless) iterable is consumed lazily;
* a worker exception is re-raised in the caller, chained to a ``RemoteTraceback``
  holding the worker's original traceback text;
* Ctrl-C in the parent terminates the workers and re-raises ``KeyboardInterrupt``
  (workers ignore SIGINT themselves, so the parent alone decides);
* a worker that dies (killed, segfault) raises ``RuntimeError`` instead of hanging.

Processes use the ``fork`` start method where available, so ``func`` may be a
lambda or a closure (nothing is pickled except items and results).
"""

import multiprocessing
import pickle
import queue
import random
import signal
import threading
import traceback

import numpy as np

__all__ = ["RemoteTraceback", "parallel_apply", "parallel_apply_generator"]

_POLL_SECONDS = 0.2  # how often the parent checks that workers are alive


class RemoteTraceback(Exception):
    """Carries a worker's traceback text; the re-raised exception is chained to it."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return "\n" + self.text


def _seed_worker(seed):
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed % (2**32))


def _portable_exception(exc):
    """The exception itself if it survives pickling, else a RuntimeError with its repr."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(repr(exc))


def _work_loop(func, in_queue, out_queue, seed, stop_event, is_process):
    """Worker body: take (index, item), put (index, ok, payload) until a None sentinel."""
    if is_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _seed_worker(seed)
    while stop_event is None or not stop_event.is_set():
        try:
            task = in_queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if task is None:
            break
        index, item = task
        try:
            result = func(pickle.loads(item) if is_process else item)
            if is_process:
                # Pickle here, not in the queue's feeder thread, so an unpicklable result
                # becomes an error in the caller instead of a silently lost item (a hang).
                result = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            out_queue.put((index, True, result))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            out_queue.put((index, False, (_portable_exception(exc), traceback.format_exc())))


def _worker_seeds(workers, random_seeds):
    if random_seeds is True:
        return [int(s) for s in np.random.SeedSequence().generate_state(workers)]
    if random_seeds is False or random_seeds is None:
        return [None] * workers
    seeds = list(random_seeds)
    if len(seeds) != workers:
        raise ValueError(
            f"random_seeds: got {len(seeds)} seeds for workers={workers}; "
            "pass one seed per worker, True (random) or False (no seeding)"
        )
    return seeds


def _check_args(workers, max_queue_size):
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if not isinstance(max_queue_size, int) or max_queue_size < 1:
        raise ValueError(f"max_queue_size must be a positive int, got {max_queue_size!r}")


def parallel_apply_generator(func, iterable, workers, max_queue_size, dummy=False, random_seeds=True):
    """Yield ``(index, func(item))`` in completion order.

    dummy=True uses threads (for I/O-bound work or unpicklable results), otherwise
    processes. ``random_seeds``: True gives each worker a fresh random seed for
    ``random`` and ``numpy.random``; False leaves them alone; a list gives explicit
    per-worker seeds.
    """
    _check_args(workers, max_queue_size)
    seeds = _worker_seeds(workers, random_seeds)
    if dummy:
        in_queue, out_queue = queue.Queue(), queue.Queue()
        stop_event = threading.Event()
        pool = [
            threading.Thread(
                target=_work_loop,
                args=(func, in_queue, out_queue, seed, stop_event, False),
                daemon=True,
            )
            for seed in seeds
        ]
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        in_queue, out_queue = ctx.Queue(), ctx.Queue()
        stop_event = None
        pool = [
            ctx.Process(
                target=_work_loop,
                args=(func, in_queue, out_queue, seed, None, True),
                daemon=True,
            )
            for seed in seeds
        ]
    for worker in pool:
        worker.start()

    in_flight_limit = max_queue_size + workers
    pending = 0
    finished = False

    def receive():
        # Block until one result arrives, noticing dead workers instead of hanging.
        while True:
            try:
                index, ok, payload = out_queue.get(timeout=_POLL_SECONDS)
                break
            except queue.Empty:
                if any(not w.is_alive() for w in pool):
                    codes = [getattr(w, "exitcode", None) for w in pool]
                    raise RuntimeError(
                        f"a parallel_apply worker died unexpectedly (exit codes {codes})"
                    ) from None
        if ok:
            return index, (payload if dummy else pickle.loads(payload))
        exc, text = payload
        raise exc from RemoteTraceback(text)

    try:
        for index, item in enumerate(iterable):
            while pending >= in_flight_limit:
                pending -= 1
                yield receive()
            if not dummy:  # pickle now: an unpicklable item raises here, not in a feeder thread
                item = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            in_queue.put((index, item))
            pending += 1
        while pending:
            pending -= 1
            yield receive()
        finished = True
    finally:
        if finished:
            for _ in pool:
                in_queue.put(None)
            for worker in pool:
                worker.join()
        else:  # error, Ctrl-C, or the consumer stopped early: do not wait for workers
            if stop_event is not None:
                stop_event.set()
            for worker in pool:
                if hasattr(worker, "terminate"):
                    worker.terminate()
            for worker in pool:
                worker.join(timeout=5)
        if not dummy:
            for q in (in_queue, out_queue):
                q.cancel_join_thread()
                q.close()


def parallel_apply(
    func,
    iterable,
    workers,
    max_queue_size,
    callback=None,
    dummy=False,
    random_seeds=True,
    unordered=True,
):
    """Apply ``func`` to every item with ``workers`` processes (threads if dummy).

    With ``callback=None`` returns the list of results, in input order when
    ``unordered=False``. Otherwise calls ``callback(result)`` for each result (in
    input order when ``unordered=False``) and returns None.
    """
    results = parallel_apply_generator(
        func, iterable, workers, max_queue_size, dummy=dummy, random_seeds=random_seeds
    )
    if callback is None:
        if unordered:
            return [result for _, result in results]
        pairs = sorted(results, key=lambda pair: pair[0])
        return [result for _, result in pairs]

    if unordered:
        for _, result in results:
            callback(result)
        return None
    # Ordered callbacks: hold back results that arrive early (bounded by in-flight items).
    waiting, next_index = {}, 0
    for index, result in results:
        waiting[index] = result
        while next_index in waiting:
            callback(waiting.pop(next_index))
            next_index += 1
    return None
