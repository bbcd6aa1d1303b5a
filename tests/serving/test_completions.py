"""/v1/completions and /v1/chat/completions on a real server (tiny random GPT-2, byte-level BPE):
answers equal the library's own `generate`, streaming, stop strings, batching, disconnects, limits,
and the stock OpenAI client."""

import asyncio
import copy
import json
import socket
import time

import httpx
import pytest

from kerasformers.generation import generate
from kerasformers.serving import BackgroundServer, Limits, create_app
from kerasformers.serving.app import chat_prompt

from .conftest import metric

PROMPTS = ["很好的酒店", "The quick brown fox", "服务态度不错，下次还来", "How do I bake bread?"]
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def expected(gpt2_model):
    """Greedy continuations straight from `generate`, cut at end-of-text and decoded."""
    prompts = [gpt2_model.encode(p) for p in PROMPTS]
    out = generate(
        gpt2_model.transformer,
        prompts,
        max_new_tokens=MAX_TOKENS,
        stop_ids=[gpt2_model.eos_id],
        pad_id=gpt2_model.eos_id,
    )
    texts = []
    for row in out.tolist():
        ids = row[: row.index(gpt2_model.eos_id)] if gpt2_model.eos_id in row else row
        texts.append((gpt2_model.decode(ids), "stop" if len(ids) < MAX_TOKENS else "length", len(ids)))
    return texts


def complete(url, **body):
    body = {"model": "tiny-gpt2", "max_tokens": MAX_TOKENS, "temperature": 0, **body}
    return httpx.post(f"{url}/v1/completions", json=body, timeout=120)


def stream_events(url, path="/v1/completions", **body):
    body = {"model": "tiny-gpt2", "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True, **body}
    events = []
    with httpx.stream("POST", f"{url}{path}", json=body, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: ")
                events.append(line[len("data: ") :])
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def test_greedy_completion_equals_generate(gpt2_server, gpt2_model, expected):
    response = complete(gpt2_server, prompt=PROMPTS[0])
    assert response.status_code == 200, response.text
    body = response.json()
    text, finish, count = expected[0]
    assert body["object"] == "text_completion" and body["model"] == "tiny-gpt2"
    assert body["choices"][0]["text"] == text and body["choices"][0]["finish_reason"] == finish
    assert body["usage"]["completion_tokens"] == count
    assert body["usage"]["prompt_tokens"] == len(gpt2_model.encode(PROMPTS[0]))


def test_stream_concatenates_to_the_same_text(gpt2_server, expected):
    chunks = stream_events(gpt2_server, prompt=PROMPTS[0])
    assert len(chunks) >= 2  # really incremental
    assert "".join(c["choices"][0]["text"] for c in chunks) == expected[0][0]
    assert chunks[-1]["choices"][0]["finish_reason"] == expected[0][1]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_stop_string_cuts_the_text(gpt2_server, expected):
    text = expected[1][0]
    stop = text[3:5]
    cut = text.index(stop)
    body = complete(gpt2_server, prompt=PROMPTS[1], stop=[stop, "never-appears"]).json()
    assert body["choices"][0]["text"] == text[:cut] and body["choices"][0]["finish_reason"] == "stop"
    streamed = stream_events(gpt2_server, prompt=PROMPTS[1], stop=stop)
    assert "".join(c["choices"][0]["text"] for c in streamed) == text[:cut]


def test_concurrent_requests_share_one_decode_loop(gpt2_server, expected):
    before = metric(
        httpx.get(f"{gpt2_server}/metrics").text, "kerasformers_batch_size_count", queue="generation"
    )

    async def burst():
        async with httpx.AsyncClient(timeout=120) as client:
            body = {"model": "tiny-gpt2", "max_tokens": MAX_TOKENS, "temperature": 0}
            calls = [
                client.post(f"{gpt2_server}/v1/completions", json={**body, "prompt": p}) for p in PROMPTS
            ]
            return await asyncio.gather(*calls)

    responses = asyncio.run(burst())
    for response, (text, finish, _) in zip(responses, expected):
        assert response.json()["choices"][0]["text"] == text
        assert response.json()["choices"][0]["finish_reason"] == finish
    after = metric(
        httpx.get(f"{gpt2_server}/metrics").text, "kerasformers_batch_size_count", queue="generation"
    )
    assert after - before < len(PROMPTS)  # fewer decode loops than requests: they were batched


def test_n_choices_and_seeded_sampling(gpt2_server):
    body = {"prompt": PROMPTS[2], "n": 3, "temperature": 1.0, "top_p": 0.9, "seed": 11}
    first, again = complete(gpt2_server, **body).json(), complete(gpt2_server, **body).json()
    assert [c["index"] for c in first["choices"]] == [0, 1, 2]
    assert [c["text"] for c in first["choices"]] == [c["text"] for c in again["choices"]]
    assert len({c["text"] for c in first["choices"]}) > 1  # really sampled, rows differ


def test_chat_completion_is_the_completion_of_the_chat_prompt(gpt2_server, gpt2_model):
    messages = [{"role": "system", "content": "简短回答"}, {"role": "user", "content": "酒店怎么样？"}]
    prompt = chat_prompt([(m["role"], m["content"]) for m in messages])
    ids = generate(
        gpt2_model.transformer,
        [gpt2_model.encode(prompt)],
        max_new_tokens=6,
        stop_ids=[gpt2_model.eos_id],
        pad_id=gpt2_model.eos_id,
    )[0].tolist()
    ids = ids[: ids.index(gpt2_model.eos_id)] if gpt2_model.eos_id in ids else ids
    body = httpx.post(
        f"{gpt2_server}/v1/chat/completions",
        timeout=120,
        json={"model": "tiny-gpt2", "messages": messages, "max_tokens": 6, "temperature": 0},
    ).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": gpt2_model.decode(ids)}
    chunks = stream_events(gpt2_server, "/v1/chat/completions", messages=messages, max_tokens=6)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == gpt2_model.decode(ids)


@pytest.fixture(scope="module")
def endless_server(gpt2_model):
    """The same model with no end-of-text id: every row decodes its full max_tokens."""
    endless = copy.copy(gpt2_model)
    endless.eos_id = None
    with BackgroundServer(create_app(endless, "tiny-gpt2", Limits(max_wait_ms=1))) as url:
        yield url


def test_client_disconnect_frees_its_slot(endless_server):
    def metrics():
        return httpx.get(f"{endless_server}/metrics").text

    cancelled = metric(metrics(), "kerasformers_generation_cancelled_total")
    body = {"model": "tiny-gpt2", "prompt": PROMPTS[0], "max_tokens": 64, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{endless_server}/v1/completions", json=body, timeout=120) as response:
        assert response.status_code == 200
        next(response.iter_lines())  # the first token arrived; now hang up
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = metrics()
        if (
            metric(text, "kerasformers_generation_cancelled_total") > cancelled
            and metric(text, "kerasformers_generation_active_rows") == 0
            and metric(text, "kerasformers_in_flight_requests") == 0
        ):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the abandoned stream kept its rows or its slot:\n" + text)
    assert complete(endless_server, prompt=PROMPTS[0]).json()["choices"][0]["finish_reason"] == "length"


def test_bad_generation_requests_name_the_field(gpt2_server):
    cases = [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 500}, "max_tokens"),
        ({"stop": [""]}, "stop"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"seed": -1}, "seed"),
        ({"stream": "yes"}, "stream"),
        ({"prompt": "很好" * 200}, "prompt"),
        ({"n": 16, "prompt": ["a", "b"]}, "n"),
    ]
    for change, field in cases:
        response = complete(gpt2_server, **{"prompt": "hi", **change})
        assert response.status_code == 400, (change, response.text)
        assert response.json()["error"]["param"] == field, (change, response.json())
    unknown = complete(gpt2_server, model="gpt-4", prompt="hi")
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
    wrong_kind = httpx.post(f"{gpt2_server}/v1/embeddings", json={"model": "tiny-gpt2", "input": "hi"})
    assert wrong_kind.status_code == 404 and "completions model" in wrong_kind.json()["error"]["message"]
    chat = httpx.post(
        f"{gpt2_server}/v1/chat/completions",
        json={"model": "tiny-gpt2", "messages": [{"role": "wizard", "content": "hi"}]},
    )
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "messages[0].role"


def test_concurrency_limit_and_timeout(gpt2_model):
    app = create_app(gpt2_model, "tiny-gpt2", Limits(max_concurrent=1))
    with BackgroundServer(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as slow:  # holds the only slot: body never ends
            slow.sendall(
                b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"model"'
            )
            deadline = time.monotonic() + 10
            while True:
                refused = httpx.post(f"{url}/v1/completions", json={"model": "tiny-gpt2", "prompt": "hi"})
                if refused.status_code == 429 or time.monotonic() > deadline:
                    break
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "rate_limit_exceeded"
            assert httpx.get(f"{url}/health").status_code == 200  # outside /v1: never limited
        deadline = time.monotonic() + 10  # the slow client hung up: its slot is free again
        while httpx.get(f"{url}/v1/models").status_code == 200 and time.monotonic() < deadline:
            response = httpx.post(
                f"{url}/v1/completions",
                json={"model": "tiny-gpt2", "prompt": "hi", "max_tokens": 2},
                timeout=120,
            )
            if response.status_code == 200:
                break
            time.sleep(0.1)
        assert response.status_code == 200
    slow = create_app(gpt2_model, "tiny-gpt2", Limits(timeout_s=0.01, max_wait_ms=50))
    with BackgroundServer(slow) as url:
        response = httpx.post(
            f"{url}/v1/completions",
            json={"model": "tiny-gpt2", "prompt": PROMPTS[0], "max_tokens": 64},
            timeout=120,
        )
        assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"


def test_stock_openai_client(gpt2_server, expected):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{gpt2_server}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny-gpt2"]
    completion = client.completions.create(
        model="tiny-gpt2", prompt=PROMPTS[3], max_tokens=MAX_TOKENS, temperature=0
    )
    assert completion.choices[0].text == expected[3][0]
    stream = client.completions.create(
        model="tiny-gpt2", prompt=PROMPTS[3], max_tokens=MAX_TOKENS, temperature=0, stream=True
    )
    assert "".join(chunk.choices[0].text for chunk in stream) == expected[3][0]
    chat = client.chat.completions.create(
        model="tiny-gpt2", messages=[{"role": "user", "content": "hi"}], max_tokens=4, temperature=0
    )
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens <= 4
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.completions.create(model="tiny-gpt2", prompt="hi", temperature=5)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="nope", prompt="hi")
