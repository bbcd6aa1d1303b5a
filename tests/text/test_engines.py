"""The Dask engine gives exactly the local results, on a real multi-process cluster
(2 worker processes on 127.0.0.1, started once for this module)."""

import functools
import random

import pytest
from typer.testing import CliRunner

from kerasformers.cli import app
from kerasformers.text.counting import CharTokenizer, count_batch, count_tokens
from kerasformers.text.discovery import discover_words
from kerasformers.text.engines import dask_count
from kerasformers.text.lexicon import Lexicon

from .test_counting import brute_force_ngrams

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _planted_lines(seed=0, n=400):
    rng = random.Random(seed)
    words = ["北京大学", "计算机", "人工智能", "的", "在", "和", "研究", "学生"]
    filler = [chr(0x5000 + i) for i in range(60)]
    return [
        "".join(rng.choice(words) if rng.random() < 0.25 else rng.choice(filler) for _ in range(12)) + "。"
        for _ in range(n)
    ]


def test_counting_on_dask_equals_local_and_brute_force(client):
    lines = _planted_lines() + ["今天天气很好，我们去公园散步。"] * 50
    local = count_tokens(lines, "ngram", 3, batch_chars=500).to_dict()
    on_dask = count_tokens(lines, "ngram", 3, batch_chars=500, engine="dask", scheduler=client).to_dict()
    assert on_dask == local == dict(brute_force_ngrams(lines, 3))
    count_chars = functools.partial(count_batch, tokenize=CharTokenizer())
    frequent = dask_count(lines, count_chars, client, batch_chars=300, min_count=40)
    assert frequent == {k: v for k, v in brute_force_ngrams(lines, 1).items() if v >= 40}


def test_discovery_on_dask_equals_local(client):
    lines = _planted_lines(seed=1, n=600)
    local = discover_words(lines, min_count=8, min_proba={2: 5, 3: 10, 4: 20})
    on_dask = discover_words(
        lines, min_count=8, min_proba={2: 5, 3: 10, 4: 20}, engine="dask", scheduler=client
    )
    assert on_dask == local
    assert {w for w in local if len(w) > 1} == {"北京大学", "计算机", "人工智能", "研究", "学生"}
    # The automatic min_count (decided after the counting pass) agrees too.
    assert discover_words(lines, engine="dask", scheduler=client) == discover_words(lines)


def test_cli_with_a_scheduler_address(client, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_planted_lines(seed=2, n=300)) + "\n", encoding="utf-8")
    runner = CliRunner()
    outputs = {}
    for engine in (["--engine", "dask", "--scheduler", client.scheduler.address], []):
        out = tmp_path / f"lexicon{len(outputs)}.tsv"
        result = runner.invoke(
            app,
            [
                "words",
                "discover",
                str(corpus),
                "--output",
                str(out),
                "--min-count",
                "6",
                "--min-proba",
                "5,10,20",
                "-q",
                *engine,
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[len(outputs)] = Lexicon.load(out)
    assert outputs[0] == outputs[1] and "计算机" in outputs[0]


def test_bad_engine_arguments():
    with pytest.raises(ValueError, match="engine must be one of"):
        count_tokens(["天地"], engine="spark")
    with pytest.raises(ValueError, match="scheduler address only makes sense"):
        discover_words(["天地"], scheduler="tcp://127.0.0.1:8786")


def test_a_local_cluster_is_started_when_no_scheduler_is_given():
    lines = ["今天天气很好，我们去公园散步。"] * 20
    on_dask = count_tokens(lines, "char", engine="dask", workers=1).to_dict()
    assert on_dask == count_tokens(lines, "char").to_dict()
