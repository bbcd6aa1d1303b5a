"""Batches for the three objectives, drawn from prepared rows; a resumable ``PyDataset``.

Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``: the rows come from an endless stream
of seeded permutations of the corpus (epoch ``e`` is its ``e``-th slice of ``steps_per_epoch``
batches) and the masking RNG is seeded with ``(seed, e, i)``. So a run resumed from a
``TrainingCheckpoint`` sees exactly the batches an uninterrupted run would.

Labels hold the token id to predict, 0 (``[PAD]``) where nothing is predicted:
``mlm`` predicts the masked tokens at ``positions``; ``gpt`` every next token; ``unilm`` the next
token inside the second segment.
"""

import math

import keras
import numpy as np

from .prepare import load_prepared

MASK_RATE = 0.15


def whole_word_mask(token_ids, word_starts, rng, vocab_size, mask_id, rate=MASK_RATE, first_regular_id=5):
    """Mask ~``rate`` of the tokens of one row, whole jieba words at a time (BERT's 80/10/10).

    Returns ``(masked_ids, positions)``: the corrupted row and the sorted masked positions.
    Special tokens (ids below ``first_regular_id``) are never chosen.
    """
    candidates = np.flatnonzero(token_ids >= first_regular_id)
    if len(candidates) == 0:
        return token_ids.copy(), np.zeros(0, dtype=np.int64)
    # Group candidate positions into words: a new word begins at a word start or after a gap.
    breaks = (word_starts[candidates] == 1) | (np.diff(candidates, prepend=-2) != 1)
    words = np.split(candidates, np.flatnonzero(breaks)[1:])
    budget = max(1, round(len(candidates) * rate))
    chosen = []
    for w in rng.permutation(len(words)):
        if len(chosen) + len(words[w]) <= budget:
            chosen.extend(words[w].tolist())
        if len(chosen) >= budget:
            break
    positions = np.array(sorted(chosen), dtype=np.int64)
    masked = token_ids.copy()
    draw = rng.random(len(positions))
    masked[positions[draw < 0.8]] = mask_id
    random_slots = positions[draw >= 0.9]
    masked[random_slots] = rng.integers(first_regular_id, vocab_size, size=len(random_slots))
    return masked, positions


def next_token_labels(token_ids, predict):
    """labels[t] = token_ids[t + 1] where ``predict[t + 1]``, else 0."""
    labels = np.zeros_like(token_ids)
    labels[:, :-1] = np.where(predict[:, 1:], token_ids[:, 1:], 0)
    return labels


class PretrainingData(keras.utils.PyDataset):
    """``(inputs, labels)`` batches of a prepared corpus for ``objective``.

    Args:
        folder: a folder written by ``prepare_corpus``.
        batch_size: rows per batch.
        seed: seed of row order and masking.
        steps_per_epoch: batches per epoch (default: one pass over the rows, remainder dropped).
        max_predictions: masked positions per row (``mlm``; default ceil(0.15 * seq_len)).
        whole_word: mask whole jieba words (``mlm``); False masks single characters.
    """

    def __init__(
        self,
        folder,
        batch_size,
        seed=0,
        steps_per_epoch=None,
        max_predictions=None,
        mask_id=4,
        whole_word=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.meta, self.arrays = load_prepared(folder)
        self.objective = self.meta["objective"]
        self.rows, self.seq_len = self.meta["rows"], self.meta["seq_len"]
        if batch_size > self.rows:
            raise ValueError(f"batch_size {batch_size} exceeds the {self.rows} rows in {folder}")
        self.batch_size, self.seed, self.mask_id, self.epoch = batch_size, seed, mask_id, 0
        self.whole_word = whole_word
        self.steps_per_epoch = steps_per_epoch or self.rows // batch_size
        self.max_predictions = max_predictions or math.ceil(MASK_RATE * self.seq_len)
        self._permutations = {}

    def __len__(self):
        return self.steps_per_epoch

    def row_indices(self, epoch, index):
        """Rows of batch ``index`` of ``epoch`` in the endless stream of seeded permutations."""
        first = (epoch * self.steps_per_epoch + index) * self.batch_size
        samples = np.arange(first, first + self.batch_size)
        return np.array([self.permutation(s // self.rows)[s % self.rows] for s in samples])

    def permutation(self, corpus_pass):
        """Row order of one pass over the corpus (the latest two passes are cached)."""
        if corpus_pass not in self._permutations:
            rng = np.random.default_rng([self.seed, corpus_pass])
            self._permutations = {k: v for k, v in self._permutations.items() if k == corpus_pass - 1}
            self._permutations[corpus_pass] = rng.permutation(self.rows)
        return self._permutations[corpus_pass]

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"batch {index} out of range ({self.steps_per_epoch} per epoch)")
        rows = self.row_indices(self.epoch, index)
        token_ids = np.asarray(self.arrays["tokens"][rows], dtype=np.int32)
        segment_ids = np.asarray(self.arrays["segments"][rows], dtype=np.int32)
        if self.objective == "gpt":
            return (token_ids, segment_ids), next_token_labels(token_ids, token_ids > 0)
        if self.objective == "unilm":
            return (token_ids, segment_ids), next_token_labels(token_ids, segment_ids == 1)
        return self.masked_batch(token_ids, segment_ids, rows, index)

    def masked_batch(self, token_ids, segment_ids, rows, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        vocab_size = self.meta["vocab_size"]
        masked = np.empty_like(token_ids)
        positions = np.zeros((len(rows), self.max_predictions), dtype=np.int32)
        labels = np.zeros((len(rows), self.max_predictions), dtype=np.int32)
        for r, row in enumerate(rows):
            # Every token starting a word turns whole-word masking into single-character masking.
            word_starts = self.arrays["word_starts"][row] if self.whole_word else np.ones_like(token_ids[r])
            masked[r], chosen = whole_word_mask(token_ids[r], word_starts, rng, vocab_size, self.mask_id)
            chosen = chosen[: self.max_predictions]
            positions[r, : len(chosen)] = chosen
            labels[r, : len(chosen)] = token_ids[r, chosen]
        return (masked, segment_ids, positions), labels
