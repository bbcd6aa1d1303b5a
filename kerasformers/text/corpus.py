"""Streaming text input: lines from many files, batches of lines, content pieces.

Everything here is lazy so a corpus larger than RAM flows through one line at a
time. Bad input fails loudly by default: a file that is binary or not valid in the
requested encoding raises ``CorpusError`` naming the file and the byte offset.
With ``errors="skip"`` such lines (or whole binary files) are skipped and counted
in ``ReadStats`` instead.
"""

import dataclasses
import os
import re

from tqdm.auto import tqdm

from ..atomic import atomic_write

__all__ = [
    "CONTENT_PATTERN",
    "CorpusError",
    "ReadStats",
    "batch_lines",
    "content_pieces",
    "iter_lines",
    "line_source",
    "write_lines_atomic",
]

# Characters that can be part of a word: CJK ideographs plus ASCII and full-width
# letters/digits. Everything else (punctuation, spaces) separates words.
CONTENT_PATTERN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+"
)

_SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB marks a file as binary


class CorpusError(ValueError):
    """A corpus file cannot be read as text."""


@dataclasses.dataclass
class ReadStats:
    """What ``iter_lines`` saw; filled in while iterating."""

    files: int = 0
    empty_files: int = 0
    lines: int = 0  # non-empty lines yielded
    blank_lines: int = 0  # zero-length (after stripping) lines skipped
    bad_lines: int = 0  # undecodable lines skipped (errors="skip")
    binary_files: int = 0  # binary files skipped (errors="skip")
    bytes: int = 0


def _check_errors(errors):
    if errors not in ("strict", "skip"):
        raise ValueError(f"errors must be 'strict' or 'skip', got {errors!r}")


def iter_lines(paths, encoding="utf-8", errors="strict", stats=None, progress=False):
    """Yield the stripped, non-empty lines of every file in ``paths``, in order."""
    _check_errors(errors)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    for path in paths:
        if not os.path.isfile(path):
            raise CorpusError(f"{path}: no such file")
    stats = stats if stats is not None else ReadStats()
    bar = None
    if progress:
        total = sum(os.path.getsize(p) for p in paths)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc="reading")
    try:
        for path in paths:
            yield from _lines_of_file(path, encoding, errors, stats, bar)
    finally:
        if bar is not None:
            bar.close()


def _lines_of_file(path, encoding, errors, stats, bar):
    stats.files += 1
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        if not head:
            stats.empty_files += 1
            return
        nul = head.find(b"\x00")
        if nul >= 0 and not encoding.lower().replace("-", "").startswith("utf16"):
            if errors == "skip":
                stats.binary_files += 1
                return
            raise CorpusError(f"{path}: looks binary (NUL byte at byte offset {nul})")
        f.seek(0)
        offset = 0
        for raw in f:
            stats.bytes += len(raw)
            if bar is not None:
                bar.update(len(raw))
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                if errors == "skip":
                    stats.bad_lines += 1
                    offset += len(raw)
                    continue
                raise CorpusError(
                    f"{path}: not valid {encoding} at byte offset {offset + exc.start} "
                    f"({exc.reason}); pass errors='skip' to skip such lines"
                ) from None
            offset += len(raw)
            line = line.strip()
            if line:
                stats.lines += 1
                yield line
            else:
                stats.blank_lines += 1


def batch_lines(lines, max_chars=1 << 18):
    """Group lines into lists of about ``max_chars`` characters (the unit of work)."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    batch, size = [], 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= max_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def content_pieces(text):
    """The runs of word characters in ``text`` (punctuation and spaces split them)."""
    return CONTENT_PATTERN.findall(text)


def line_source(corpus, encoding="utf-8", errors="strict", progress=False):
    """A function returning a fresh line iterator, for algorithms that read the
    corpus more than once.

    ``corpus`` is a path, a list of paths (decided by its first item being a
    PathLike or an existing file) or a list of text lines.
    """
    if isinstance(corpus, (str, os.PathLike)):
        corpus = [corpus]
    if iter(corpus) is corpus:
        raise TypeError("corpus is read more than once: pass file paths or a list of lines, not an iterator")
    corpus = list(corpus)
    first = corpus[0] if corpus else None
    if isinstance(first, os.PathLike) or (isinstance(first, str) and os.path.isfile(first)):
        return lambda: iter_lines(corpus, encoding=encoding, errors=errors, progress=progress)
    bad = [type(c).__name__ for c in corpus if not isinstance(c, str)]
    if bad:
        raise TypeError(f"corpus must be file paths or a list of str lines, found {bad[0]} items")
    return lambda: iter(corpus)


def write_lines_atomic(path, lines):
    """Write ``lines`` (each without its newline) to ``path`` atomically: a temp file
    in the same directory, then ``os.replace``."""
    with atomic_write(path) as f:
        for line in lines:
            f.write(line)
            f.write("\n")
