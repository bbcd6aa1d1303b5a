"""bert4keras's WebServing contract on FastAPI: routes, argument conversion, error codes."""

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from kerasformers.snippets import WebServing


def repeat(text, n=2):
    if n < 0:
        raise ValueError("n must be >= 0")
    return {"text": text * n}


@pytest.fixture
def client():
    web = WebServing(port=8864)
    arguments = {"text": (None, True), "n": (int, False)}
    web.route("/repeat", repeat, arguments)
    web.route("/repeat_post", repeat, arguments, method="POST")
    return TestClient(web.app)


def test_get_converts_arguments_and_wraps_the_answer(client):
    answer = client.get("/repeat", params={"text": "你好", "n": "3"}).json()
    assert answer == {"code": 0, "desc": "succeeded", "data": {"text": "你好你好你好"}}
    assert client.get("/repeat", params={"text": "ab"}).json()["data"] == {"text": "abab"}


def test_post_form(client):
    assert client.post("/repeat_post", data={"text": "x", "n": "2"}).json()["data"] == {"text": "xx"}


def test_missing_argument_and_failing_function(client):
    assert client.get("/repeat").json() == {"code": 1, "desc": 'lack of "text" argument', "data": {}}
    failed = client.get("/repeat", params={"text": "a", "n": "-1"}).json()
    assert failed["code"] == 2 and "n must be >= 0" in failed["desc"]
    bad = client.get("/repeat", params={"text": "a", "n": "two"}).json()
    assert bad["code"] == 2 and "'n'" in bad["desc"]
