"""Small helpers shared by the bench scripts: timing, peak memory, machine facts, workers.

A bench that compares Keras backends runs one worker subprocess per backend (the backend
is fixed per process); the worker prints one ``RESULT {json}`` line that `run_worker`
parses. Nothing here imports keras or a framework, so it is safe before the backend is set.
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

RESULT_PREFIX = "RESULT "
MB = 1024 * 1024


# ---------------------------------------------------------------------- timing
def time_calls(fn, repeats, warmup=2):
    """Seconds per call of ``fn()`` (a list of ``repeats`` values) after ``warmup`` untimed calls.

    ``fn`` must block until its result is computed (e.g. ``block_until_ready`` on JAX).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_ms(times):
    return 1000.0 * statistics.median(times)


# ---------------------------------------------------------------------- memory
def _status_kib(field):
    """A ``VmXXX:`` value of /proc/self/status in KiB, or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_bytes():
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes():
    """High-water mark of the resident set size of this process."""
    kib = _status_kib("VmHWM")  # resettable, see reset_peak_rss
    if kib is not None:
        return kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def reset_peak_rss():
    """Reset the RSS high-water mark to the current RSS (Linux ≥ 4.0); False if unsupported.

    Without a reset, a peak reached during imports would hide a smaller peak while loading.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory() as m: ...`` → ``m.bytes``: how far the RSS peak rose above the
    RSS at entry (the baseline), i.e. the extra memory the block needed at its worst."""

    def __enter__(self):
        self.exact = reset_peak_rss()
        self.baseline = current_rss_bytes() if self.exact else peak_rss_bytes()
        return self

    def __exit__(self, *exc_info):
        self.bytes = max(0, peak_rss_bytes() - self.baseline)


# ---------------------------------------------------------------------- machine facts
def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def machine_info():
    """Facts that belong next to any number this machine produced."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m": round(load[0], 2),
    }


def package_versions(names):
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# ---------------------------------------------------------------------- workers
def emit_result(result):
    """Worker side: hand a JSON-serialisable dict back to `run_worker`."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_worker(args, env=None, timeout=1800):
    """Run ``python <args>`` in a fresh process and return the dict it emitted."""
    command = [sys.executable, *args]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
    raise RuntimeError(
        f"worker {' '.join(command)} exited with code {proc.returncode} "
        f"without a result; stderr tail:\n{tail}"
    )


def run_backend_workers(script, flags, backends, threads, timeout=7200):
    """Run ``script --worker *flags`` once per Keras backend, each pinned to ``threads`` threads;
    returns ``{backend: result dict}``."""
    env = {
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "HF_HUB_OFFLINE": "1",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}",
    }
    results = {}
    for backend in backends:
        print(f"worker on {backend} ...", flush=True)
        results[backend] = run_worker(
            [os.path.abspath(script), "--worker", *flags],
            env={**env, "KERAS_BACKEND": backend},
            timeout=timeout,
        )
    return results


# ---------------------------------------------------------------------- reporting
def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` via a temp file in the same directory and `os.replace`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
