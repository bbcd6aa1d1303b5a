"""Corpus reading, the cut-down vocabulary, prepared rows and the three objectives' batches."""

import numpy as np
import pytest

from kerasformers.pretraining.corpus import iter_documents, split_sentences, strip_pos_tags
from kerasformers.pretraining.data import PretrainingData, next_token_labels, whole_word_mask
from kerasformers.pretraining.prepare import load_prepared, prepare_corpus
from kerasformers.tokenizers import Tokenizer, load_vocab

from .conftest import BASE_VOCAB


def test_peoples_daily_tags_and_compound_brackets_are_stripped():
    line = "迈向/v  充满/v  希望/n  的/u  [中国/ns  政府/n]nt  １２月/t  。/w\n"
    assert strip_pos_tags(line) == "迈向充满希望的中国政府１２月。"


def test_held_out_lines_never_reach_pretraining():
    pretrain = iter_documents(["peoples-daily-1998"])
    held_out = iter_documents(["peoples-daily-1998"], split="held-out")
    first_pretrain = {next(pretrain) for _ in range(200)}
    first_held_out = [next(held_out) for _ in range(20)]
    assert first_held_out[0].startswith("迈向充满希望的新世纪")  # line 0 is held out
    assert not first_pretrain & set(first_held_out)


def test_sentences_split_after_final_punctuation():
    assert split_sentences("今天天气好。我们出去吧！好吗?") == ["今天天气好。", "我们出去吧！", "好吗?"]


def test_corpus_vocabulary_keeps_used_tokens_in_base_order(corpus_file, corpus_vocab):
    token_dict, keep_tokens = corpus_vocab
    base = load_vocab(BASE_VOCAB)
    inverse = {i: t for t, i in base.items()}
    assert list(token_dict)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert [inverse[i] for i in keep_tokens] == list(token_dict)
    assert keep_tokens[5:] == sorted(keep_tokens[5:])
    tokenizer = Tokenizer(base, do_lower_case=True)
    with open(corpus_file, encoding="utf-8") as lines:
        used = {i for line in lines for i in tokenizer.encode(line.strip())[0]}
    assert set(keep_tokens) - {base[t] for t in ("[PAD]", "[MASK]", "[UNK]")} == used - {base["[UNK]"]}


def test_packed_rows_hold_the_whole_corpus_in_order(corpus_file, corpus_vocab, prepared_work_dir):
    meta, arrays = load_prepared(str(prepared_work_dir / "rows-mlm-32"))
    tokenizer = Tokenizer(corpus_vocab[0], do_lower_case=True)
    sep = tokenizer.token_to_id("[SEP]")
    expected = []
    with open(corpus_file, encoding="utf-8") as lines:
        for line in filter(str.strip, lines):
            expected += tokenizer.encode(line.strip())[0][1:-1] + [sep]
    tokens = np.asarray(arrays["tokens"])
    assert (tokens[:, 0] == tokenizer.token_to_id("[CLS]")).all()
    stream = tokens[:, 1:].ravel()
    assert stream[stream > 0].tolist() == expected
    assert meta["tokens"] == int(np.count_nonzero(tokens))
    # a word start opens every row, and "[CLS]" is one on its own
    assert (np.asarray(arrays["word_starts"])[:, :2] == 1).all()


def test_whole_word_masking_masks_complete_words_at_the_rate():
    rng = np.random.default_rng(0)
    token_ids = np.array([2] + list(range(10, 210)) + [3])
    word_starts = np.zeros_like(token_ids)
    word_starts[1::3] = 1  # words of three tokens (the last is shorter)
    words = np.cumsum(word_starts)
    counts = {"mask": 0, "kept": 0, "random": 0}
    for _ in range(200):
        masked, positions = whole_word_mask(token_ids, word_starts, rng, vocab_size=300, mask_id=4)
        assert 0 not in positions and len(token_ids) - 1 not in positions  # [CLS]/[SEP] untouched
        for word in np.unique(words[positions]):
            assert set(np.flatnonzero(words == word)) <= set(positions.tolist()) | {0, len(token_ids) - 1}
        assert abs(len(positions) - 30) <= 2  # 15 % of 200 candidate tokens
        unchanged = np.delete(np.arange(len(token_ids)), positions)
        assert (masked[unchanged] == token_ids[unchanged]).all()
        counts["mask"] += int((masked[positions] == 4).sum())
        counts["kept"] += int((masked[positions] == token_ids[positions]).sum())
        counts["random"] += int(
            ((masked[positions] != 4) & (masked[positions] != token_ids[positions])).sum()
        )
    total = sum(counts.values())
    assert abs(counts["mask"] / total - 0.8) < 0.03
    assert abs(counts["kept"] / total - 0.1) < 0.03
    assert abs(counts["random"] / total - 0.1) < 0.03


def test_next_token_labels():
    token_ids = np.array([[2, 11, 12, 3, 21, 22, 3, 0]])
    segments = np.array([[0, 0, 0, 0, 1, 1, 1, 0]])
    assert next_token_labels(token_ids, token_ids > 0).tolist() == [[11, 12, 3, 21, 22, 3, 0, 0]]
    assert next_token_labels(token_ids, segments == 1).tolist() == [[0, 0, 0, 21, 22, 3, 0, 0]]


def test_batches_depend_only_on_seed_epoch_and_index(prepared_work_dir):
    folder = str(prepared_work_dir / "rows-mlm-32")
    first, second = PretrainingData(folder, 4, seed=7), PretrainingData(folder, 4, seed=7)
    second.epoch = 1
    epoch_one = second[3]
    second.epoch = 0
    for a, b in zip(first[3][0] + (first[3][1],), second[3][0] + (second[3][1],)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3][0][0], epoch_one[0][0])
    (_, _, positions), labels = first[3]
    _, arrays = load_prepared(folder)
    rows = first.row_indices(0, 3)
    original = np.asarray(arrays["tokens"])[rows]
    np.testing.assert_array_equal(np.take_along_axis(original, positions, 1)[labels > 0], labels[labels > 0])
    assert positions.shape == labels.shape == (4, 5)  # ceil(0.15 * 32)
    # one pass over the corpus visits every row once
    data = PretrainingData(folder, 4, seed=7)
    visited = np.concatenate([data.row_indices(0, i) for i in range(len(data))])
    assert len(set(visited.tolist())) == len(visited) == len(data) * 4


def test_unilm_rows_are_sentence_pairs(tmp_path, corpus_file, corpus_vocab):
    meta = prepare_corpus([corpus_file], str(tmp_path / "unilm"), corpus_vocab[0], 32, "unilm")
    data = PretrainingData(str(tmp_path / "unilm"), 2, seed=0)
    (token_ids, segment_ids), labels = data[0]
    assert meta["objective"] == "unilm" and meta["rows"] > 10
    for row, segments, row_labels in zip(token_ids, segment_ids, labels):
        assert set(np.unique(segments)) == {0, 1}
        target = np.flatnonzero(segments == 1)
        np.testing.assert_array_equal(row_labels[target[0] - 1 : target[-1]], row[target])
        assert (row_labels[: target[0] - 1] == 0).all()


def test_bad_objective_and_missing_rows_are_clear_errors(tmp_path, corpus_vocab):
    with pytest.raises(ValueError, match="objective must be one of"):
        prepare_corpus(["x"], str(tmp_path / "rows"), corpus_vocab[0], 32, "xlnet")
    with pytest.raises(FileNotFoundError, match="not a prepared corpus"):
        load_prepared(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="neither one of"):
        prepare_corpus([str(tmp_path / "missing.txt")], str(tmp_path / "rows"), corpus_vocab[0], 32, "mlm")


def test_character_masking_ignores_word_boundaries(prepared_work_dir):
    """``whole_word=False``: masked positions need not cover whole words (single characters)."""
    folder = str(prepared_work_dir / "rows-mlm-32")
    _, arrays = load_prepared(folder)
    by_word, by_char = (
        PretrainingData(folder, 4, seed=7),
        PretrainingData(folder, 4, seed=7, whole_word=False),
    )
    split_words = {True: 0, False: 0}
    for data in (by_word, by_char):
        for index in range(len(data)):
            (_, _, positions), labels = data[index]
            for row, row_positions, row_labels in zip(data.row_indices(0, index), positions, labels):
                chosen = set(row_positions[row_labels > 0].tolist())
                starts = np.asarray(arrays["word_starts"][row])
                tokens = np.asarray(arrays["tokens"][row])
                for p in chosen:  # a chosen token whose word neighbour (same word) was left unmasked
                    if (
                        p + 1 < len(tokens)
                        and tokens[p + 1] >= 5
                        and not starts[p + 1]
                        and p + 1 not in chosen
                    ):
                        split_words[data.whole_word] += 1
    assert split_words[True] == 0 < split_words[False]
