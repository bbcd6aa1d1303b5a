"""Task endpoints: a tiny stand-in task (no training) for the HTTP contract, then a real NER task
folder trained and saved by ``kerasformers.tasks``, served, and compared with its own predict()."""

import random
import re

import httpx
import pytest

from kerasformers.serving import BackgroundServer, Limits, TaskModel, create_app, load_model


class CapitalisedNames:
    """Entities = capitalised words, with character offsets (enough to exercise the endpoint)."""

    name = "ner"

    def parse_input(self, item):
        if isinstance(item, str):
            return {"text": item}
        raise ValueError(f"ner: expected a text, got {item!r:.40}")

    def predict(self, inputs):
        return [
            {
                "entities": [
                    {"type": "NAME", "start": m.start(), "end": m.end(), "text": m.group()}
                    for m in re.finditer(r"[A-Z][a-z]+", text)
                ]
            }
            for text in inputs
        ]


def test_task_endpoint_contract():
    app = create_app(TaskModel(CapitalisedNames()), "names", Limits(max_inputs=4))
    with BackgroundServer(app) as url:
        models = httpx.get(f"{url}/v1/models").json()["data"][0]
        assert models["task"] == "ner" and models["endpoints"] == ["/v1/ner"]
        body = httpx.post(
            f"{url}/v1/ner", json={"model": "names", "input": ["Alice met Bob", "nobody"]}
        ).json()
        first = body["data"][0]["result"]["entities"]
        assert [(e["start"], e["end"], e["text"]) for e in first] == [(0, 5, "Alice"), (10, 13, "Bob")]
        assert body["data"][1]["result"] == {"entities": []} and body["task"] == "ner"
        wrong = httpx.post(f"{url}/v1/classify", json={"model": "names", "input": "x"})
        assert wrong.status_code == 404 and "/v1/ner" in wrong.json()["error"]["message"]
        for bad, field in (
            (["ok", {"text": 1}], "input[1]"),
            ([], "input"),
            (["a"] * 5, "input"),
            ("  ", "input"),
            ([3], "input[0]"),
        ):
            response = httpx.post(f"{url}/v1/ner", json={"model": "names", "input": bad})
            assert response.status_code == 400 and response.json()["error"]["param"] == field, (
                bad,
                response.text,
            )
        embeddings = httpx.post(f"{url}/v1/embeddings", json={"model": "names", "input": "x"})
        assert embeddings.status_code == 404


@pytest.fixture(scope="module")
def ner_folder(tmp_path_factory):
    tasks = pytest.importorskip("kerasformers.tasks")
    rng = random.Random(0)
    people, places = ["张伟", "王芳", "李娜", "刘洋", "陈静"], ["北京", "上海", "广州", "深圳", "杭州"]
    records = []
    for _ in range(24):
        person, place = rng.choice(people), rng.choice(places)
        text = f"{person}去{place}开会"
        records.append(
            {
                "text": text,
                "entities": [{"type": "PER", "start": 0, "end": 2}, {"type": "LOC", "start": 3, "end": 5}],
            }
        )
    tiny = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
    task = tasks.TASKS["ner"](checkpoint="scratch", maxlen=32, encoder=tiny)
    task.fit(records[8:], records[:8], epochs=1, batch_size=16, verbose=0)
    folder = tmp_path_factory.mktemp("ner-task")
    task.save(folder)
    return folder, task


def test_a_saved_ner_task_serves_its_own_predictions(ner_folder):
    folder, task = ner_folder
    texts = ["王芳去北京开会", "李娜去深圳开会，刘洋也去了"]
    with BackgroundServer(create_app(load_model(folder), "ner-demo")) as url:
        body = httpx.post(f"{url}/v1/ner", json={"model": "ner-demo", "input": texts}, timeout=120).json()
    assert [d["result"] for d in body["data"]] == task.predict(texts)
    for text, item in zip(texts, body["data"]):
        for entity in item["result"]["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]
