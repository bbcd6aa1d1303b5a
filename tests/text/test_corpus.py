import pytest

from kerasformers.text.corpus import (
    CorpusError,
    ReadStats,
    batch_lines,
    content_pieces,
    iter_lines,
    line_source,
    write_lines_atomic,
)


def test_lines_are_stripped_and_blank_lines_skipped(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("第一行\n\n   \n第二行  \n", encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_bytes(b"")
    stats = ReadStats()
    assert list(iter_lines([a, b], stats=stats)) == ["第一行", "第二行"]
    assert (stats.files, stats.empty_files, stats.lines, stats.blank_lines) == (2, 1, 2, 2)


def test_wrong_encoding_names_file_and_byte_offset(tmp_path):
    path = tmp_path / "gbk.txt"
    good = "好的\n".encode()
    path.write_bytes(good + "中文".encode("gbk") + b"\n")
    with pytest.raises(CorpusError) as info:
        list(iter_lines(path))
    message = str(info.value)
    assert str(path) in message and f"byte offset {len(good)}" in message


def test_wrong_encoding_skipped_and_counted_when_asked(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("一\n".encode() + "中文".encode("gbk") + b"\n" + "二\n".encode())
    stats = ReadStats()
    assert list(iter_lines(path, errors="skip", stats=stats)) == ["一", "二"]
    assert stats.bad_lines == 1


def test_gbk_file_reads_with_its_encoding(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("中文文本\n".encode("gbk"))
    assert list(iter_lines(path, encoding="gbk")) == ["中文文本"]


def test_binary_file_is_an_error_or_skipped(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"abc\x00\x01\x02")
    with pytest.raises(CorpusError, match=r"blob\.bin: looks binary \(NUL byte at byte offset 3\)"):
        list(iter_lines(path))
    stats = ReadStats()
    assert list(iter_lines(path, errors="skip", stats=stats)) == []
    assert stats.binary_files == 1


def test_missing_file_and_bad_errors_argument(tmp_path):
    with pytest.raises(CorpusError, match="nope.txt: no such file"):
        list(iter_lines(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match="errors"):
        list(iter_lines(tmp_path / "nope.txt", errors="ignore"))


def test_batch_lines_groups_by_characters_and_keeps_everything():
    lines = ["ab", "cde", "f", "ghij", "k"]
    batches = list(batch_lines(lines, max_chars=4))
    assert [x for b in batches for x in b] == lines
    assert batches == [["ab", "cde"], ["f", "ghij"], ["k"]]


def test_content_pieces_split_on_punctuation_and_space():
    assert content_pieces("今天，天气 很好！ABC１２３。") == ["今天", "天气", "很好", "ABC１２３"]


def test_line_source_rereads_and_rejects_iterators(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("甲\n乙\n", encoding="utf-8")
    source = line_source([str(path)])
    assert list(source()) == list(source()) == ["甲", "乙"]
    assert list(line_source(["文本一", "文本二"])()) == ["文本一", "文本二"]
    with pytest.raises(TypeError, match="more than once"):
        line_source(iter(["x"]))


def test_write_lines_atomic_leaves_no_temp_file_on_failure(tmp_path):
    target = tmp_path / "out.tsv"
    write_lines_atomic(target, ["old"])

    def broken():
        yield "new"
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_lines_atomic(target, broken())
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]
