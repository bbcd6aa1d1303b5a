"""Dynamic batching: concurrent requests share one forward pass or one decode loop.

`Batcher` gathers the items (texts) of requests arriving within ``max_wait_ms`` of the
first, up to ``max_batch_size`` items, and runs them as one padded call. `GenerationScheduler`
does the same for generation: rows with the same sampling settings decode together in one
KV-cached loop, tokens are handed to each request as they are produced, and a request whose
client went away is dropped from the loop (the loop stops when no live row is left).
A running loop has a fixed batch (its compiled step has static shapes); requests arriving
meanwhile form the next loop.
"""

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Job:
    items: list
    future: asyncio.Future


class Batcher:
    """Runs ``run_batch(items) -> results`` on batches gathered from concurrent `submit` calls."""

    def __init__(self, run_batch, executor, max_batch_size, max_wait_ms, metrics, name):
        self.run_batch, self.executor = run_batch, executor
        self.max_batch_size, self.max_wait = max_batch_size, max_wait_ms / 1000
        self.metrics, self.name = metrics, name
        self.queue = None
        self.worker = None

    def start(self):
        self.queue = asyncio.Queue()
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self):
        if self.worker is not None:
            self.worker.cancel()

    async def submit(self, items):
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(list(items), future))
        self.metrics.queue_depth.labels(self.name).set(self.queue.qsize())
        return await future

    async def _gather(self):
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        count = len(jobs[0].items)
        deadline = loop.time() + self.max_wait
        while count < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                job = await asyncio.wait_for(self.queue.get(), remaining)
            except TimeoutError:
                break
            jobs.append(job)
            count += len(job.items)
        self.metrics.queue_depth.labels(self.name).set(self.queue.qsize())
        return [job for job in jobs if not job.future.done()]  # timed-out requests are skipped

    async def _work(self):
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            items = [item for job in jobs for item in job.items]
            if not items:
                continue
            self.metrics.batch_size.labels(self.name).observe(len(items))
            try:
                results = await loop.run_in_executor(self.executor, self._run_chunks, items)
            except Exception as error:  # noqa: BLE001 - a model failure fails these requests, never the worker
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(results[start : start + len(job.items)])
                start += len(job.items)

    def _run_chunks(self, items):
        results = []
        for start in range(0, len(items), self.max_batch_size):
            results.extend(self.run_batch(items[start : start + self.max_batch_size]))
        return results


# ---------------------------------------------------------------------- generation
@dataclass
class GenerationRequest:
    """One generation request: ``prompts`` (token id lists) each decoded ``n`` times.

    Events arrive on ``events`` as ``(choice_index, text_delta, finish_reason)``;
    ``finish_reason`` is None until the choice ends ('stop' or 'length').
    """

    prompts: list
    n: int
    max_tokens: int
    temperature: float
    top_p: float
    stop: list
    seed: int = None
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    completion_tokens: int = 0

    @property
    def rows(self):
        return len(self.prompts) * self.n

    def sampling_key(self):
        return (self.temperature, self.top_p if self.temperature > 0 else None, self.seed)


class _RowText:
    """Incremental detokenisation of one row with stop strings and an end-of-text id."""

    def __init__(self, model, max_tokens, stop):
        self.model, self.max_tokens, self.stop = model, max_tokens, stop
        self.ids, self.sent, self.finish = [], "", None

    def push(self, token):
        """Add one token -> (text to send now, finish_reason or None)."""
        if self.model.eos_id is not None and token == self.model.eos_id:
            self.finish = "stop"
            return self._flush(final=True)
        self.ids.append(int(token))
        if len(self.ids) >= self.max_tokens:
            self.finish = "length"
        return self._flush(final=self.finish is not None)

    def _flush(self, final):
        text = self.model.decode(self.ids)
        for stop in self.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, self.finish, final = text[:cut], "stop", True
        if not final:
            if text.endswith("\ufffd"):  # an unfinished UTF-8 character: wait for its next byte
                text = text.rstrip("\ufffd")
            hold = max((k for s in self.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
            text = text[: len(text) - hold]  # could be the start of a stop string
        delta, self.sent = text[len(self.sent) :], max(self.sent, text, key=len)
        return delta, self.finish


class GenerationScheduler:
    """Groups concurrent generation requests into shared, batched decode loops."""

    def __init__(self, model, executor, max_batch_size, max_wait_ms, metrics):
        self.model, self.executor = model, executor
        self.max_batch_size, self.max_wait = max_batch_size, max_wait_ms / 1000
        self.metrics = metrics
        self.pending = []
        self.wakeup = None
        self.worker = None
        self.seeds = itertools.count(int(time.time()))

    def start(self):
        self.wakeup = asyncio.Event()
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self):
        if self.worker is not None:
            self.worker.cancel()

    def submit(self, request):
        self.pending.append(request)
        self.metrics.queue_depth.labels("generation").set(len(self.pending))
        self.wakeup.set()

    async def _work(self):
        loop = asyncio.get_running_loop()
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            if not self.pending:
                continue
            await asyncio.sleep(self.max_wait)  # let concurrent requests join this loop
            group = self._take_group()
            self.metrics.queue_depth.labels("generation").set(len(self.pending))
            if self.pending:
                self.wakeup.set()
            if group:
                await loop.run_in_executor(self.executor, self._decode, group, loop)

    def _take_group(self):
        self.pending = [r for r in self.pending if not r.cancelled.is_set()]
        if not self.pending:
            return []
        key, rows, group = self.pending[0].sampling_key(), 0, []
        for request in list(self.pending):
            if request.sampling_key() == key and (not group or rows + request.rows <= self.max_batch_size):
                group.append(request)
                rows += request.rows
                self.pending.remove(request)
        return group

    def _loop_length(self, group, prompts):
        """Steps of the loop: the longest max_tokens rounded up to a power of two, so a few compiled
        loop shapes serve every request (rows stop at their own max_tokens; the loop ends with them)."""
        longest = max(r.max_tokens for r in group)
        room = self.model.max_tokens - max(len(p) for p in prompts)
        return max(longest, min(1 << (longest - 1).bit_length(), room))

    def _decode(self, group, loop):
        """Runs on the model thread: one decode loop for every row of ``group``."""
        rows, prompts = [], []
        for request in group:
            for p, prompt in enumerate(request.prompts):
                for k in range(request.n):
                    rows.append(
                        (request, p * request.n + k, _RowText(self.model, request.max_tokens, request.stop))
                    )
                    prompts.append(prompt)
        # filler rows up to a power of two: a few compiled loop shapes serve every batch size
        prompts += [prompts[0]] * ((1 << (len(prompts) - 1).bit_length()) - len(prompts))
        first = group[0]
        seed = first.seed if first.seed is not None else next(self.seeds)
        self.metrics.batch_size.labels("generation").observe(len(rows))
        self.metrics.active_rows.inc(len(rows))
        live = [True] * len(rows)

        def send(request, event):  # from this worker thread to the request's queue on the event loop
            loop.call_soon_threadsafe(request.events.put_nowait, event)

        steps = self.model.stream(
            prompts, self._loop_length(group, prompts), first.temperature, first.top_p, seed
        )
        try:
            for tokens in steps:
                for i, (request, choice, text) in enumerate(rows):
                    if not live[i]:
                        continue
                    if request.cancelled.is_set():
                        live[i] = False
                        self.metrics.active_rows.dec()
                        continue
                    delta, finish = text.push(int(tokens[i]))
                    if finish:
                        request.completion_tokens += len(text.ids)
                    if delta or finish:
                        send(request, (choice, delta, finish))
                    if finish:
                        live[i] = False
                        self.metrics.active_rows.dec()
                if not any(live):
                    break
        except Exception as error:  # noqa: BLE001 - reported to every request of this loop
            for request in group:
                send(request, (None, error, "error"))
        finally:
            steps.close()
            for i, (request, choice, text) in enumerate(rows):
                if live[i]:
                    live[i] = False
                    self.metrics.active_rows.dec()
                    request.completion_tokens += len(text.ids)
                    if not request.cancelled.is_set():
                        send(request, (choice, "", text.finish or "length"))
