"""The server never dies on input: a few hundred random and hostile bodies, every answer a 4xx
(or a 200 for the bodies that happen to be valid) with a JSON error, then a normal request works."""

import json
import random

import httpx

PATHS = ["/v1/embeddings", "/v1/completions", "/v1/chat/completions", "/v1/ner", "/v1/nothing", "/health"]
HOSTILE = [
    None,
    True,
    -1,
    0,
    2**70,
    -1e308,
    1e308,
    0.5,
    "",
    " ",
    "\u0000",
    "\ud800",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 50,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    [],
    {},
    [[]],
    [None],
    ["ok", 1],
    {"$gt": ""},
    "a" * 5000,
    ["x"] * 300,
    [{"role": "user"}],
    [{"role": "user", "content": 5}],
]
FIELDS = [
    "model",
    "input",
    "prompt",
    "messages",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stop",
    "seed",
    "encoding_format",
    "dimensions",
]


def random_json(rng, depth=0):
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(HOSTILE)
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.randrange(-5, 50)
    if kind == 4:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def bodies(rng, count):
    valid = {"model": "minilm", "input": "hello"}
    for i in range(count):
        style = i % 6
        if style == 0:  # random bytes
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        elif style == 1:  # a valid body with one field made hostile
            yield json.dumps({**valid, rng.choice(FIELDS): rng.choice(HOSTILE)}).encode()
        elif style == 2:  # random JSON objects
            yield json.dumps({f: random_json(rng) for f in rng.sample(FIELDS, rng.randrange(1, 6))}).encode()
        elif style == 3:  # absurd nesting, truncation, NaN literals
            yield rng.choice(
                [
                    b"[" * 100_000,
                    b'{"model": "minilm", "input": "he',
                    b'{"temperature": NaN}',
                    b'{"input": ' * 5000,
                    b'{"model": "minilm", "input": ["a", Infinity]}',
                ]
            )
        elif style == 4:  # random values at the top level
            yield json.dumps(random_json(rng)).encode()
        else:  # very long strings
            yield json.dumps({**valid, "input": "字" * rng.randrange(1000, 30_000)}).encode()


def test_fuzzed_bodies_never_crash_the_server(minilm_server):
    rng = random.Random(1234)
    statuses = {}
    with httpx.Client(base_url=minilm_server, timeout=60) as client:
        for body in bodies(rng, 300):
            path = rng.choice(PATHS)
            headers = {
                "Content-Type": rng.choice(["application/json", "text/plain", "application/x-www-form"])
            }
            response = client.post(path, content=body, headers=headers)
            assert response.status_code < 500, (path, body[:200], response.text[:300])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 400:
                assert "message" in response.json()["error"], response.text[:300]
        assert client.get("/health").json()["status"] == "ok"
        normal = client.post("/v1/embeddings", json={"model": "minilm", "input": ["still alive", "还活着"]})
        assert normal.status_code == 200 and len(normal.json()["data"]) == 2
    assert (
        statuses.get(400, 0) > 100 and statuses.get(413, 0) > 0
    )  # most were rejected, for the right reasons
