"""Turn a streamed corpus into fixed-length token rows on disk (memory-mapped, never all in RAM).

``prepare_corpus`` writes into a folder:

* ``tokens.u16`` / ``segments.u8`` / ``word_starts.u8``: ``(rows, seq_len)`` raw arrays,
* ``vocab.txt``: the vocabulary the ids refer to,
* ``meta.json``: rows, seq_len, objective, sources, token counts.

Rows for ``mlm`` and ``gpt`` pack documents back to back (``[CLS] d1 [SEP] d2 [SEP] ...``) so
no position is padding; ``unilm`` rows hold one ``[CLS] sentence [SEP] next sentence [SEP]`` pair.
``word_starts`` marks the first token of each jieba word (whole-word masking picks words).
The folder is built under a temporary name and renamed into place, so it is complete or absent.
"""

import json
import os
import shutil

import numpy as np

from ..tokenizers import Tokenizer, load_vocab, save_vocab
from .corpus import iter_documents, split_sentences

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
OBJECTIVES = ("mlm", "unilm", "gpt")
_CHUNK = 512  # documents tokenized per call


def _chunks(items, size=_CHUNK):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def corpus_vocabulary(sources, base_vocab, min_count=1, max_size=None):
    """The part of ``base_vocab`` that the corpus uses: ``(token_dict, keep_tokens)``.

    Tokens are counted with the full vocabulary; kept are the special tokens and every token
    seen at least ``min_count`` times (the most frequent ``max_size`` of them if given), in the
    base file's order. ``keep_tokens[i]`` is new token i's id in ``base_vocab`` (bert4keras's
    ``keep_tokens``, to slice a pretrained embedding table with).
    """
    base = load_vocab(base_vocab)
    tokenizer = Tokenizer(base, do_lower_case=True)
    counts = np.zeros(len(base), dtype=np.int64)
    for chunk in _chunks(iter_documents(sources)):
        token_ids, _ = tokenizer.encode_batch(chunk)
        counts += np.bincount(token_ids.ravel(), minlength=len(base))[: len(base)]
    specials = [base[t] for t in SPECIAL_TOKENS if t in base]
    counts[specials] = 0
    candidates = np.flatnonzero(counts >= min_count)
    if max_size is not None and len(candidates) > max_size - len(specials):
        candidates = candidates[np.argsort(-counts[candidates], kind="stable")[: max_size - len(specials)]]
    keep_tokens = specials + sorted(int(i) for i in candidates if i not in specials)
    inverse = {index: token for token, index in base.items()}
    token_dict = {inverse[index]: new for new, index in enumerate(keep_tokens)}
    return token_dict, keep_tokens


def _word_start_flags(text, offsets):
    """1 for tokens that start a jieba word of ``text`` (offsets: (n, 2) char spans)."""
    import jieba

    starts, position = set(), 0
    for word in jieba.lcut(text):
        starts.add(position)
        position += len(word)
    return np.fromiter((int(s) in starts for s, _ in offsets), dtype=np.uint8, count=len(offsets))


class _RowWriter:
    """Append rows to the three raw array files."""

    def __init__(self, folder, seq_len):
        self.seq_len, self.rows, self.tokens = seq_len, 0, 0
        self.files = {
            name: open(os.path.join(folder, name), "wb")  # noqa: SIM115 (closed by close())
            for name in ("tokens.u16", "segments.u8", "word_starts.u8")
        }

    def write(self, ids, segments, starts):
        row = np.zeros((3, self.seq_len), dtype=np.int64)
        row[0, : len(ids)], row[1, : len(segments)], row[2, : len(starts)] = ids, segments, starts
        self.files["tokens.u16"].write(row[0].astype(np.uint16).tobytes())
        self.files["segments.u8"].write(row[1].astype(np.uint8).tobytes())
        self.files["word_starts.u8"].write(row[2].astype(np.uint8).tobytes())
        self.rows += 1
        self.tokens += int(np.count_nonzero(row[0]))

    def close(self):
        for handle in self.files.values():
            handle.close()


def _encoded(tokenizer, texts):
    """Content ids and word-start flags of each text (no [CLS]/[SEP])."""
    token_ids, _, offsets = tokenizer.encode_batch(texts, return_offsets=True)
    for text, ids, spans in zip(texts, token_ids, offsets):
        n = int(np.count_nonzero(ids)) - 2
        content_spans = spans[1 : 1 + n]
        yield ids[1 : 1 + n], _word_start_flags(text, content_spans)


def _write_packed(writer, tokenizer, sources):
    cls, sep, width = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]"), writer.seq_len - 1
    ids_buffer, starts_buffer = [], []
    for chunk in _chunks(iter_documents(sources)):
        for ids, starts in _encoded(tokenizer, chunk):
            ids_buffer.extend(ids.tolist() + [sep])
            starts_buffer.extend(starts.tolist() + [1])
            while len(ids_buffer) >= width:
                row_starts = [1] + starts_buffer[:width]
                row_starts[1] = 1  # a word cut by the row boundary starts afresh
                writer.write([cls] + ids_buffer[:width], [0] * writer.seq_len, row_starts)
                del ids_buffer[:width], starts_buffer[:width]
    if len(ids_buffer) > 1:
        writer.write([cls] + ids_buffer, [0] * (len(ids_buffer) + 1), [1, 1] + starts_buffer[1:])


def _write_pairs(writer, tokenizer, sources):
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    budget = writer.seq_len - 3
    for chunk in _chunks(iter_documents(sources)):
        pairs = [(a, b) for text in chunk for a, b in zip(split_sentences(text), split_sentences(text)[1:])]
        if not pairs:
            continue
        firsts = list(_encoded(tokenizer, [a for a, _ in pairs]))
        seconds = list(_encoded(tokenizer, [b for _, b in pairs]))
        for (source, _), (target, _) in zip(firsts, seconds):
            source = source[-(budget // 2) :] if len(source) > budget // 2 else source
            target = target[: budget - len(source)]
            if len(source) == 0 or len(target) == 0:
                continue
            ids = [cls, *source.tolist(), sep, *target.tolist(), sep]
            segments = [0] * (len(source) + 2) + [1] * (len(target) + 1)
            starts = [1] * len(ids)  # unused by the UniLM objective
            writer.write(ids, segments, starts)


def prepare_corpus(sources, folder, token_dict, seq_len=128, objective="mlm"):
    """Write the prepared rows of ``sources`` for ``objective`` into ``folder``; returns its meta."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if seq_len < 8:
        raise ValueError(f"seq_len must be >= 8, got {seq_len}")
    if len(token_dict) > np.iinfo(np.uint16).max:
        raise ValueError(f"vocabulary of {len(token_dict)} tokens does not fit the uint16 row files")
    tokenizer = Tokenizer(token_dict, do_lower_case=True)
    temporary = folder.rstrip("/") + ".partial"
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    writer = _RowWriter(temporary, seq_len)
    try:
        (_write_pairs if objective == "unilm" else _write_packed)(writer, tokenizer, sources)
    finally:
        writer.close()
    if writer.rows == 0:
        raise ValueError(f"the corpus {list(sources)} gave no {objective} rows of length {seq_len}")
    save_vocab(os.path.join(temporary, "vocab.txt"), token_dict)
    meta = {
        "rows": writer.rows,
        "seq_len": seq_len,
        "objective": objective,
        "sources": list(sources),
        "tokens": writer.tokens,
        "vocab_size": len(token_dict),
    }
    with open(os.path.join(temporary, "meta.json"), "w", encoding="utf-8") as out:
        json.dump(meta, out, indent=2, ensure_ascii=False)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temporary, folder)
    return meta


def load_prepared(folder):
    """``(meta, arrays)`` with memory-mapped ``tokens``, ``segments``, ``word_starts`` (rows, seq_len)."""
    meta_path = os.path.join(folder, "meta.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{folder} is not a prepared corpus (no meta.json)")
    with open(meta_path, encoding="utf-8") as handle:
        meta = json.load(handle)
    shape = (meta["rows"], meta["seq_len"])
    arrays = {}
    for name, suffix, dtype in (
        ("tokens", "u16", np.uint16),
        ("segments", "u8", np.uint8),
        ("word_starts", "u8", np.uint8),
    ):
        path = os.path.join(folder, f"{name}.{suffix}")
        expected = shape[0] * shape[1] * np.dtype(dtype).itemsize
        if os.path.getsize(path) != expected:
            raise ValueError(f"{path}: {os.path.getsize(path)} bytes, expected {expected} for {shape}")
        arrays[name] = np.memmap(path, dtype=dtype, mode="r", shape=shape)
    return meta, arrays
