import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from kerasformers.data.parallel import (
    RemoteTraceback,
    parallel_apply,
    parallel_apply_generator,
)


def _square(x):
    return x * x


def _fail_on_seven(x):
    if x == 7:
        raise ValueError(f"bad item {x}")
    return x


@pytest.mark.parametrize("dummy", [False, True])
def test_ordered_results_match_serial_map(dummy):
    items = list(range(200))
    out = parallel_apply(_square, items, 2, 8, dummy=dummy, unordered=False)
    assert out == [x * x for x in items]


@pytest.mark.parametrize("dummy", [False, True])
def test_unordered_results_are_a_permutation(dummy):
    items = list(range(100))
    out = parallel_apply(lambda x: -x, items, 2, 4, dummy=dummy)
    assert sorted(out) == sorted(-x for x in items)


def test_ordered_callback_sees_input_order_even_when_completion_order_differs():
    # Early items sleep longest, so they finish last; the callback must still be in order.
    def slow_first(x):
        time.sleep(0.02 * (10 - x) if x < 10 else 0)
        return x

    seen = []
    parallel_apply(slow_first, range(30), 3, 4, callback=seen.append, dummy=True, unordered=False)
    assert seen == list(range(30))


def test_generator_yields_index_result_pairs():
    pairs = list(parallel_apply_generator(_square, [3, 1, 2], 2, 2))
    assert sorted(pairs) == [(0, 9), (1, 1), (2, 4)]


@pytest.mark.parametrize("dummy", [False, True])
def test_worker_exception_reraised_with_original_traceback(dummy):
    with pytest.raises(ValueError, match="bad item 7") as info:
        parallel_apply(_fail_on_seven, range(20), 2, 4, dummy=dummy)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "_fail_on_seven" in cause.text and "ValueError: bad item 7" in cause.text


def test_bounded_queue_consumes_iterable_lazily():
    consumed = []

    def source():
        for i in range(1000):
            consumed.append(i)
            yield i

    gen = parallel_apply_generator(_square, source(), 2, 3)
    next(gen)
    # At most max_queue_size + workers items are in flight, plus the one being fed.
    assert len(consumed) <= 3 + 2 + 1
    gen.close()


def test_random_seeds_differ_between_workers_and_explicit_seeds_are_used():
    def draw(_):
        time.sleep(0.01)
        return float(np.random.rand())

    draws = parallel_apply(draw, range(20), 2, 2, random_seeds=[1, 1], unordered=False)
    # Both workers seeded with 1: each draw sequence starts at the seed-1 stream.
    expected = np.random.RandomState(1).rand(20)
    assert set(draws) <= set(expected.tolist())
    fresh = parallel_apply(draw, range(20), 2, 2, random_seeds=True)
    assert len(set(fresh)) == 20


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="workers"):
        parallel_apply(_square, [1], 0, 2)
    with pytest.raises(ValueError, match="max_queue_size"):
        parallel_apply(_square, [1], 1, 0)
    with pytest.raises(ValueError, match="random_seeds"):
        parallel_apply(_square, [1], 2, 2, random_seeds=[1])


def test_unpicklable_result_is_an_error_not_a_hang():
    import threading

    with pytest.raises(TypeError, match="pickle") as info:
        parallel_apply(lambda x: threading.Lock(), range(3), 2, 2)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    with pytest.raises(TypeError, match="pickle"):
        parallel_apply(_square, [1, threading.Lock()], 2, 2)


def test_dead_worker_raises_instead_of_hanging():
    def die(x):
        os._exit(3)

    with pytest.raises(RuntimeError, match="died unexpectedly"):
        parallel_apply(die, range(5), 2, 2)


def test_ctrl_c_terminates_workers_and_exits_promptly(tmp_path):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from kerasformers.data.parallel import parallel_apply

        # A shell's background job (`make test &`) inherits SIGINT as ignored; a terminal's Ctrl-C does not.
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def slow(x):
            open(os.path.join({str(pid_dir)!r}, str(os.getpid())), "w").close()
            time.sleep(0.5)
            return x

        print("started", flush=True)
        parallel_apply(slow, range(10_000), 2, 4)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while len(os.listdir(pid_dir)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)  # a hang fails here
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    worker_pids = [int(name) for name in os.listdir(pid_dir)]
    assert len(worker_pids) == 2
    for pid in worker_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
