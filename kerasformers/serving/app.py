"""The FastAPI application: OpenAI-compatible endpoints, task endpoints, health, metrics, playground.

    app = create_app(load_model("my_model_dir"), name="my-model")
    uvicorn.run(app, host="127.0.0.1", port=8000)

Every error is ``{"error": {"message", "type", "param", "code"}}`` (OpenAI's shape) with a
4xx status naming the offending field; the server never answers a body with a crash.
"""

import asyncio
import base64
import importlib.resources
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from .batching import Batcher, GenerationRequest, GenerationScheduler
from .metrics import Metrics
from .schemas import ChatRequest, CompletionRequest, EmbeddingRequest, TaskRequest

# Task names (kerasformers.tasks) -> endpoint under /v1/.
TASK_ENDPOINTS = {
    "classification": "classify",
    "sentence-pair": "classify-pair",
    "ner": "ner",
    "cws": "segment",
    "relation-extraction": "extract",
    "event-extraction": "events",
    "entity-linking": "link",
}


@dataclass
class Limits:
    """What one request may ask for, and how requests are batched."""

    max_body_bytes: int = 1_000_000
    max_tokens_per_request: int = 4096  # also capped by the model's positions
    max_inputs: int = 256  # texts per embeddings / task request
    max_concurrent: int = 64  # in-flight /v1 requests; past it: 429 + Retry-After
    timeout_s: float = 60.0
    max_batch_size: int = 32
    max_wait_ms: float = 5.0


class SafeJSONResponse(JSONResponse):
    """JSON that survives lone surrogates (legal in JSON input, unencodable in UTF-8): they are
    written back as ``\\udXXX`` escapes instead of failing the response."""

    def render(self, content):
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


class ApiError(Exception):
    def __init__(self, status, message, param=None, code=None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(message, param=None, code=None, status=400):
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _error_response(status, message, param=None, code=None, headers=None):
    return SafeJSONResponse(error_body(message, param, code, status), status_code=status, headers=headers)


class _Guard:
    """ASGI middleware: body-size and concurrency limits, JSON pre-check, request metrics.

    Pure ASGI (not BaseHTTPMiddleware) so a streamed response keeps its slot until the
    last byte is sent or the client goes away.
    """

    def __init__(self, app, limits, metrics, paths):
        self.app, self.limits, self.metrics, self.paths = app, limits, metrics, paths
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if scope["path"] in self.paths else "other"
        status = {"code": 500}
        start = time.perf_counter()

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        limited = path.startswith("/v1/") and path != "/v1/models"
        if limited and self.in_flight >= self.limits.max_concurrent:
            self.metrics.rejected.labels("concurrency").inc()
            response = _error_response(
                429,
                f"too many concurrent requests (limit {self.limits.max_concurrent}); retry shortly",
                code="rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send_status)
            self._record(path, status, start)
            return
        self.in_flight += limited
        self.metrics.in_flight.set(self.in_flight)
        try:
            if scope["method"] == "POST":
                body, problem = await self._read_body(receive)
                if problem is not None:
                    await problem(scope, receive, send_status)
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_status)
        finally:
            self.in_flight -= limited
            self.metrics.in_flight.set(self.in_flight)
            self._record(path, status, start)

    async def _read_body(self, receive):
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", _error_response(400, "client disconnected while sending the body")
            size += len(message.get("body", b""))
            if size > self.limits.max_body_bytes:
                self.metrics.rejected.labels("body_size").inc()
                return b"", _error_response(
                    413,
                    f"request body is larger than {self.limits.max_body_bytes} bytes",
                    code="body_too_large",
                )
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            return body, _error_response(400, f"malformed JSON body: {str(error)[:200]}", code="invalid_json")
        if not isinstance(payload, dict):
            return body, _error_response(
                400, f"the JSON body must be an object, got {type(payload).__name__}", code="invalid_json"
            )
        return body, None

    def _record(self, path, status, start):
        self.metrics.requests.labels(path, str(status["code"])).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - start)


def _replay(body, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _field(location):
    parts = [str(p) for p in location if p != "body"]
    # pydantic appends the union member it tried ('str', 'list[str]'): not part of the field name
    parts = [
        p
        for p in parts
        if p not in ("str", "int", "float", "bool")
        and not p.startswith(("list[", "dict[", "tuple[", "function-", "union[", "literal["))
    ]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or None


def create_app(model, name, limits=None):
    """A FastAPI app serving ``model`` (from `serving.models.load_model`) under the id ``name``."""
    limits = limits or Limits()
    metrics = Metrics()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kerasformers-model")
    workers = []
    if model.kind == "embeddings":
        workers.append(
            Batcher(model.embed, executor, limits.max_batch_size, limits.max_wait_ms, metrics, "embeddings")
        )
    elif model.kind == "task":
        workers.append(
            Batcher(model.predict, executor, limits.max_batch_size, limits.max_wait_ms, metrics, "task")
        )
    else:
        workers.append(
            GenerationScheduler(model, executor, limits.max_batch_size, limits.max_wait_ms, metrics)
        )
    worker = workers[0]
    token_limit = min(
        limits.max_tokens_per_request, getattr(model, "max_tokens", limits.max_tokens_per_request)
    )
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app):
        worker.start()
        yield
        await worker.stop()
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="kerasformers",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=SafeJSONResponse,
    )
    app.state.metrics, app.state.limits, app.state.model = metrics, limits, model

    @app.exception_handler(ApiError)
    async def api_error(request, error):
        return _error_response(error.status, error.message, error.param, error.code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, error):
        # of a union's alternatives, report the one that got deepest into the value
        problem = max(error.errors(), key=lambda e: len(_field(e.get("loc", ())) or ""))
        field = _field(problem.get("loc", ()))
        message = problem.get("msg", "invalid value")
        return _error_response(400, f"{field}: {message}" if field else message, field, "invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, error):  # unknown path, wrong method
        return _error_response(
            error.status_code,
            f"{request.method} {request.url.path}: {error.detail}",
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def crashed(request, error):
        return _error_response(500, f"internal error: {type(error).__name__}: {error}")

    def check(request_model, kind, endpoint):
        if request_model != name:
            raise ApiError(
                404,
                f"model {request_model!r} does not exist; this server serves {name!r}",
                "model",
                "model_not_found",
            )
        if model.kind != kind:
            raise ApiError(
                404,
                f"{endpoint} is not available: {name!r} is a {model.kind} model (see GET /v1/models)",
                None,
                "unsupported_endpoint",
            )

    async def within_timeout(awaitable):
        try:
            return await asyncio.wait_for(awaitable, limits.timeout_s)
        except TimeoutError:
            metrics.rejected.labels("timeout").inc()
            raise ApiError(504, f"request took longer than {limits.timeout_s} s", None, "timeout") from None

    def texts_of(value, field="input"):
        texts = [value] if isinstance(value, str) else list(value)
        if not texts:
            raise ApiError(400, f"{field} is empty: send at least one text", field)
        if len(texts) > limits.max_inputs:
            raise ApiError(
                400, f"{field} has {len(texts)} texts; at most {limits.max_inputs} per request", field
            )
        for i, text in enumerate(texts):
            where = field if isinstance(value, str) else f"{field}[{i}]"
            if not text.strip():
                raise ApiError(400, f"{where} is an empty string", where)
        return texts

    # ------------------------------------------------------------------ service endpoints
    @app.get("/health")
    async def health():
        return {"status": "ok", "model": name, "kind": model.kind}

    @app.get("/metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models():
        entry = {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "kerasformers",
            "kind": model.kind,
            "endpoints": endpoints(),
        }
        if model.kind == "task":
            entry["task"] = model.task_name
        return {"object": "list", "data": [entry]}

    @app.get("/", response_class=HTMLResponse)
    async def playground():
        return importlib.resources.files(__package__).joinpath("static/playground.html").read_text("utf-8")

    def endpoints():
        if model.kind == "embeddings":
            return ["/v1/embeddings"]
        if model.kind == "completions":
            return ["/v1/completions", "/v1/chat/completions"]
        return [f"/v1/{TASK_ENDPOINTS.get(model.task_name, model.task_name)}"]

    # ------------------------------------------------------------------ embeddings
    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest):
        check(body.model, "embeddings", "/v1/embeddings")
        texts = texts_of(body.input)
        if body.dimensions is not None and body.dimensions != model.dimensions:
            raise ApiError(
                400, f"dimensions: this model returns {model.dimensions}, got {body.dimensions}", "dimensions"
            )
        counts = [model.count_tokens(text) for text in texts]
        for i, count in enumerate(counts):
            if count > token_limit:
                where = "input" if isinstance(body.input, str) else f"input[{i}]"
                raise ApiError(
                    400, f"{where} has {count} tokens; the limit is {token_limit}", where, "too_many_tokens"
                )
        vectors = await within_timeout(worker.submit(texts))
        data = []
        for i, vector in enumerate(vectors):
            vector = np.asarray(vector, dtype="<f4")
            value = (
                base64.b64encode(vector.tobytes()).decode("ascii")
                if body.encoding_format == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = int(sum(counts))
        return {
            "object": "list",
            "data": data,
            "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    # ------------------------------------------------------------------ tasks
    async def run_task(body: TaskRequest, endpoint):
        check(body.model, "task", f"/v1/{endpoint}")
        served = TASK_ENDPOINTS.get(model.task_name, model.task_name)
        if endpoint != served:
            raise ApiError(
                404,
                f"/v1/{endpoint} is not available: {name!r} is a {model.task_name} task, "
                f"served at /v1/{served}",
                None,
                "unsupported_endpoint",
            )
        items = [body.input] if isinstance(body.input, str) else list(body.input)
        if not items:
            raise ApiError(400, "input is empty: send at least one item", "input")
        if len(items) > limits.max_inputs:
            raise ApiError(
                400, f"input has {len(items)} items; at most {limits.max_inputs} per request", "input"
            )
        for i, item in enumerate(items):
            where = "input" if isinstance(body.input, str) else f"input[{i}]"
            problem = model.check(item)
            if problem:
                raise ApiError(400, f"{where}: {problem}", where)
        results = await within_timeout(worker.submit(items))
        return {
            "object": "list",
            "model": name,
            "task": model.task_name,
            "data": [
                {"index": i, "input": item, "result": result}
                for i, (item, result) in enumerate(zip(items, results))
            ],
        }

    task_endpoints = set(TASK_ENDPOINTS.values())
    if model.kind == "task":
        task_endpoints.add(TASK_ENDPOINTS.get(model.task_name, model.task_name))
    for endpoint in sorted(task_endpoints):

        async def task_endpoint(body: TaskRequest, endpoint=endpoint):
            return await run_task(body, endpoint)

        app.post(f"/v1/{endpoint}")(task_endpoint)

    # ------------------------------------------------------------------ generation
    def generation_request(body, prompts, default_max_tokens):
        encoded = []
        for _i, prompt in enumerate(prompts):
            ids = model.encode(prompt)
            if not ids:
                raise ApiError(400, "prompt has no tokens", "prompt")
            encoded.append(ids)
        longest = max(len(ids) for ids in encoded)
        if longest >= token_limit:
            raise ApiError(
                400,
                f"prompt has {longest} tokens; the limit is {token_limit - 1} "
                f"(to leave room for one new token)",
                "prompt",
                "too_many_tokens",
            )
        max_tokens = body.max_tokens or min(default_max_tokens, token_limit - longest)
        if longest + max_tokens > token_limit:
            raise ApiError(
                400,
                f"max_tokens: prompt ({longest} tokens) + max_tokens ({max_tokens}) exceeds "
                f"the limit of {token_limit} tokens",
                "max_tokens",
                "too_many_tokens",
            )
        if len(encoded) * body.n > limits.max_batch_size:
            raise ApiError(
                400,
                f"n: {len(encoded)} prompts × n={body.n} rows exceed the batch limit {limits.max_batch_size}",
                "n",
            )
        stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        if len(stop) > 4 or any(not s for s in stop):
            raise ApiError(400, "stop: up to 4 non-empty strings", "stop")
        return GenerationRequest(
            encoded, body.n, max_tokens, body.temperature, body.top_p, stop, body.seed, events=asyncio.Queue()
        ), sum(len(ids) for ids in encoded) * body.n

    async def events_of(request):
        """Yield (choice, delta, finish) until every choice ends; cancels the rows if abandoned."""
        finished, total = 0, request.rows
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.timeout_s
        try:
            while finished < total:
                try:
                    event = await asyncio.wait_for(request.events.get(), deadline - loop.time())
                except TimeoutError:
                    metrics.rejected.labels("timeout").inc()
                    raise ApiError(
                        504, f"request took longer than {limits.timeout_s} s", None, "timeout"
                    ) from None
                _choice, delta, finish = event
                if finish == "error":
                    raise ApiError(500, f"generation failed: {delta}")
                finished += finish is not None
                yield event
        finally:
            if finished < total:
                request.cancelled.set()
                metrics.cancelled.inc()

    def chunk(kind, request_id, choice, delta, finish):
        if kind == "chat":
            content = {"content": delta} if delta else {}
            return {
                "id": request_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": name,
                "choices": [{"index": choice, "delta": content, "finish_reason": finish}],
            }
        return {
            "id": request_id,
            "object": "text_completion",
            "created": int(time.time()),
            "model": name,
            "choices": [{"index": choice, "text": delta, "logprobs": None, "finish_reason": finish}],
        }

    async def respond(kind, request, prompt_tokens, stream):
        request_id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        if stream:

            async def sse():
                if kind == "chat":
                    for c in range(request.rows):
                        first = chunk(kind, request_id, c, "", None)
                        first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
                        yield f"data: {json.dumps(first, ensure_ascii=False)}\n\n"
                worker.submit(request)  # here, so a client gone before this point never starts rows
                try:
                    async for choice, delta, finish in events_of(request):
                        payload = chunk(kind, request_id, choice, delta, finish)
                        yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
                except ApiError as error:
                    payload = error_body(error.message, error.param, error.code, error.status)
                    yield f"data: {json.dumps(payload)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(
                sse(),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        worker.submit(request)
        texts, reasons = [""] * request.rows, [None] * request.rows
        async for choice, delta, finish in events_of(request):
            texts[choice] += delta
            reasons[choice] = finish or reasons[choice]
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": request.completion_tokens,
            "total_tokens": prompt_tokens + request.completion_tokens,
        }
        if kind == "chat":
            choices = [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": r}
                for i, (t, r) in enumerate(zip(texts, reasons))
            ]
            obj = "chat.completion"
        else:
            choices = [
                {"index": i, "text": t, "logprobs": None, "finish_reason": r}
                for i, (t, r) in enumerate(zip(texts, reasons))
            ]
            obj = "text_completion"
        return {
            "id": request_id,
            "object": obj,
            "created": int(time.time()),
            "model": name,
            "choices": choices,
            "usage": usage,
        }

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        check(body.model, "completions", "/v1/completions")
        prompts = texts_of(body.prompt, "prompt")
        request, prompt_tokens = generation_request(body, prompts, 16)
        return await respond("text", request, prompt_tokens, body.stream)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        check(body.model, "completions", "/v1/chat/completions")
        prompt = chat_prompt([(m.role, m.content) for m in body.messages])
        request, prompt_tokens = generation_request(body, [prompt], token_limit)
        return await respond("chat", request, prompt_tokens, body.stream)

    paths = {
        "/",
        "/health",
        "/metrics",
        "/v1/models",
        "/v1/embeddings",
        "/v1/completions",
        "/v1/chat/completions",
    } | {f"/v1/{e}" for e in task_endpoints}
    app.add_middleware(_Guard, limits=limits, metrics=metrics, paths=paths)
    return app


def chat_prompt(messages):
    """Messages -> one prompt: ``role: content`` lines, then ``assistant:`` for the reply."""
    return "".join(f"{role}: {content}\n" for role, content in messages) + "assistant:"
