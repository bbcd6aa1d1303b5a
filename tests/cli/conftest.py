import pytest

from tests.serving.folders import minilm_dir, write_tiny_gpt2


@pytest.fixture(scope="session")
def minilm_folder():
    return minilm_dir()


@pytest.fixture(scope="session")
def gpt2_cli_folder(tmp_path_factory):
    return write_tiny_gpt2(str(tmp_path_factory.mktemp("cli-gpt2")))
