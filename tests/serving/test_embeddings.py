"""/v1/embeddings on a real server with the real all-MiniLM-L6-v2 weights: vectors equal the model's
own outputs, concurrent requests are batched, base64 and the OpenAI client work, limits hold."""

import asyncio
import base64

import httpx
import numpy as np
import pytest
from keras import ops

from .conftest import metric

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply after the interest rate announcement.",
    "How do I bake bread at home?",
    "今天天气很好",
    "What is a good recipe for homemade bread?",
]


def direct_embeddings(model, texts):
    """One text at a time through the Keras model, mean-pooled over real tokens, unit length."""
    vectors = []
    for text in texts:
        token_ids, segment_ids = model.tokenizer.encode(text)
        hidden = ops.convert_to_numpy(
            model.transformer.model([np.array([token_ids]), np.array([segment_ids])])
        )
        vector = hidden[0].mean(axis=0)
        vectors.append(vector / np.linalg.norm(vector))
    return np.stack(vectors)


def embed(url, texts, **extra):
    return httpx.post(f"{url}/v1/embeddings", json={"model": "minilm", "input": texts, **extra}, timeout=120)


def test_embeddings_equal_the_model_outputs(minilm_server, minilm_model):
    body = embed(minilm_server, SENTENCES).json()
    assert body["object"] == "list" and body["model"] == "minilm"
    assert [d["index"] for d in body["data"]] == list(range(len(SENTENCES)))
    served = np.array([d["embedding"] for d in body["data"]])
    assert served.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(served, direct_embeddings(minilm_model, SENTENCES), atol=2e-5)
    tokens = sum(len(minilm_model.tokenizer.encode(s)[0]) for s in SENTENCES)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    # the paraphrases are each other's nearest neighbours (a real model, not noise)
    similarity = served @ served.T - 2 * np.eye(len(SENTENCES))
    assert similarity[0].argmax() == 1 and similarity[3].argmax() == 5


def test_concurrent_requests_are_padded_into_one_batch(minilm_server, minilm_model):
    text = httpx.get(f"{minilm_server}/metrics").text
    passes_before = metric(text, "kerasformers_batch_size_count", queue="embeddings")

    async def burst():
        async with httpx.AsyncClient(timeout=120) as client:
            calls = [
                client.post(f"{minilm_server}/v1/embeddings", json={"model": "minilm", "input": s})
                for s in SENTENCES
            ]
            return await asyncio.gather(*calls)

    responses = asyncio.run(burst())
    served = np.array([r.json()["data"][0]["embedding"] for r in responses])
    np.testing.assert_allclose(served, direct_embeddings(minilm_model, SENTENCES), atol=2e-5)
    passes = (
        metric(
            httpx.get(f"{minilm_server}/metrics").text, "kerasformers_batch_size_count", queue="embeddings"
        )
        - passes_before
    )
    assert passes < len(SENTENCES)  # several requests shared a forward pass


def test_base64_and_the_openai_client(minilm_server, minilm_model):
    raw = embed(minilm_server, SENTENCES[:2], encoding_format="base64").json()
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in raw["data"]])
    np.testing.assert_allclose(decoded, direct_embeddings(minilm_model, SENTENCES[:2]), atol=2e-5)
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{minilm_server}/v1", api_key="unused", max_retries=0)
    result = client.embeddings.create(model="minilm", input=SENTENCES[:3])  # the client asks for base64
    np.testing.assert_allclose(
        np.array([d.embedding for d in result.data]),
        direct_embeddings(minilm_model, SENTENCES[:3]),
        atol=2e-5,
    )
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model="minilm", input="")


def test_bad_embedding_requests_name_the_field(minilm_server):
    cases = [
        ({"input": []}, "input"),
        ({"input": ""}, "input"),
        ({"input": ["ok", "  "]}, "input[1]"),
        ({"input": 42}, "input"),
        ({"input": ["ok", 3]}, "input[1]"),
        ({"dimensions": 100}, "dimensions"),
        ({"encoding_format": "hex"}, "encoding_format"),
        ({"input": "word " * 200}, "input"),
        ({"input": ["ok", "word " * 200]}, "input[1]"),
        ({"model": 7}, "model"),
    ]
    for change, field in cases:
        response = (
            embed(minilm_server, "ok", **change)
            if "input" not in change
            else httpx.post(f"{minilm_server}/v1/embeddings", json={"model": "minilm", **change})
        )
        assert response.status_code == 400, (change, response.text)
        error = response.json()["error"]
        assert error["param"] == field and error["type"] == "invalid_request_error", (change, error)
    unknown = httpx.post(f"{minilm_server}/v1/embeddings", json={"model": "text-embedding-3", "input": "x"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    huge = httpx.post(f"{minilm_server}/v1/embeddings", json={"model": "minilm", "input": ["x" * 30_000]})
    assert huge.status_code == 413 and "20000 bytes" in huge.json()["error"]["message"]
    for body in (b"{", b"[1, 2]", b"\xff\xfe", b"", b"null"):
        response = httpx.post(
            f"{minilm_server}/v1/embeddings", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json", body


def test_health_models_and_metrics(minilm_server):
    assert embed(minilm_server, "ok").status_code == 200
    assert httpx.get(f"{minilm_server}/health").json() == {
        "status": "ok",
        "model": "minilm",
        "kind": "embeddings",
    }
    models = httpx.get(f"{minilm_server}/v1/models").json()
    assert models["data"][0]["id"] == "minilm" and models["data"][0]["endpoints"] == ["/v1/embeddings"]
    text = httpx.get(f"{minilm_server}/metrics").text
    for name in (
        "kerasformers_requests_total",
        "kerasformers_request_latency_seconds_bucket",
        "kerasformers_batch_size_bucket",
        "kerasformers_queue_depth",
        "kerasformers_in_flight_requests",
    ):
        assert name in text
    assert metric(text, "kerasformers_requests_total", path="/v1/embeddings", status="200") >= 1
