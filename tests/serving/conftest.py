import pytest

from kerasformers.serving import BackgroundServer, Limits, create_app, load_model

from .folders import minilm_dir, write_tiny_gpt2


@pytest.fixture(scope="session")
def gpt2_folder(tmp_path_factory):
    return write_tiny_gpt2(str(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(scope="session")
def gpt2_model(gpt2_folder):
    return load_model(gpt2_folder)


@pytest.fixture(scope="module")
def gpt2_server(gpt2_model):
    app = create_app(gpt2_model, "tiny-gpt2", Limits(max_batch_size=16, max_wait_ms=20))
    with BackgroundServer(app) as url:
        yield url


@pytest.fixture(scope="session")
def minilm_model():
    return load_model(minilm_dir())


@pytest.fixture(scope="module")
def minilm_server(minilm_model):
    app = create_app(
        minilm_model,
        "minilm",
        Limits(max_batch_size=16, max_wait_ms=20, max_body_bytes=20_000, max_tokens_per_request=64),
    )
    with BackgroundServer(app) as url:
        yield url


def metric(text, name, **labels):
    """The value of one Prometheus sample in ``text`` (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        base, _, rest = series.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if base == name and found == wanted:
            return float(value)
    return 0.0
