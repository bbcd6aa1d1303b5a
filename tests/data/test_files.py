import json

import pytest

from kerasformers.data import open as kf_open


@pytest.fixture
def text_file(tmp_path):
    lines = ["第一行\n", "second line\n", "\n", "最后 last"]
    path = tmp_path / "big.txt"
    path.write_bytes("".join(lines).encode("utf-8"))
    return path, lines


def test_open_iterates_like_builtin(text_file):
    path, lines = text_file
    with kf_open(path, encoding="utf-8") as f:
        assert list(f) == lines
    with kf_open(path, "rb") as f:
        assert f.read() == "".join(lines).encode("utf-8")


def test_open_indexable_random_access(text_file, tmp_path):
    path, lines = text_file
    cache = str(tmp_path / "offsets.json")
    with kf_open(path, indexable=cache) as f:
        assert len(f) == 4
        assert [f[i] for i in (3, 0, 2, 1, -1)] == [lines[3], lines[0], lines[2], lines[1], lines[3]]
        with pytest.raises(IndexError, match="line 4 out of range"):
            f[4]
    # The cached offsets are the byte positions of each line.
    offsets = json.load(open(cache))
    encoded = [l.encode("utf-8") for l in lines]
    assert offsets == [sum(map(len, encoded[:i])) for i in range(4)]
    with kf_open(path, indexable=cache) as f:  # second open reuses the cache
        assert f[1] == lines[1]


def test_open_write_then_read(tmp_path):
    path = tmp_path / "out.txt"
    with kf_open(path, "w") as f:
        f.write("你好\nworld\n")
    with kf_open(path) as f:
        assert f.readline() == "你好\n"
        assert f.readlines() == ["world\n"]


def test_open_indexing_requires_indexable(text_file):
    path, _ = text_file
    with kf_open(path) as f, pytest.raises(TypeError, match="indexable=True"):
        f[0]
    with pytest.raises(ValueError, match="read mode"):
        kf_open(path, "w", indexable=True)
