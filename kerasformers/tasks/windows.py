"""Sliding token windows over long texts, with the character offsets to stitch answers back.

A text longer than one window is cut into windows of ``maxlen - 2`` content tokens that
start every ``stride`` tokens, so no token is ever dropped; each window carries the
[CLS]/[SEP]-wrapped ids and each content token's ``(start, end)`` character span in the
original text.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Window:
    first: int  # index of the window's first content token in the whole text
    token_ids: list  # [CLS] content [SEP]
    offsets: np.ndarray  # (content tokens, 2) character spans; row i is token_ids[i + 1]
    total: int  # content tokens in the whole text

    def span(self, first_token, last_token):
        """Character span [start, end) covering content tokens first..last (window indices)."""
        return int(self.offsets[first_token, 0]), int(self.offsets[last_token, 1])

    def touches_cut(self, first_token, last_token):
        """True when a span reaches a cut edge, so it may continue in the next window (a
        neighbouring window, which overlaps this one, sees it whole)."""
        return self.distance_to_edge(first_token) == 0 or self.distance_to_edge(last_token) == 0

    def distance_to_edge(self, token):
        """How far (in tokens) a window token is from a cut edge; text edges do not count."""
        left = token if self.first > 0 else len(self.offsets)
        right = (
            len(self.offsets) - 1 - token
            if self.first + len(self.offsets) < self.total
            else len(self.offsets)
        )
        return min(left, right)


def token_windows(tokenizer, text, maxlen, stride):
    """``text`` → list of Window with at most ``maxlen`` tokens each (see the module docstring)."""
    ids, _, offsets = tokenizer.encode_batch([text], return_offsets=True)
    ids, offsets = ids[0][1:-1].tolist(), offsets[0][1:-1]
    start_id, end_id = tokenizer._token_start_id, tokenizer._token_end_id
    body = maxlen - 2
    if body < 1:
        raise ValueError(f"maxlen={maxlen} leaves no room for text tokens")
    stride = max(1, min(stride, body))
    windows, first = [], 0
    while True:
        last = min(first + body, len(ids))
        windows.append(Window(first, [start_id] + ids[first:last] + [end_id], offsets[first:last], len(ids)))
        if last >= len(ids):
            return windows
        first += stride


def best_window_per_token(windows):
    """For each content token of the text, the (window index, token index in it) that sees it
    with the most context on both sides — used to stitch per-token labels."""
    choice = {}
    for w, window in enumerate(windows):
        for t in range(len(window.offsets)):
            token = window.first + t
            score = window.distance_to_edge(t)
            if token not in choice or score > choice[token][0]:
                choice[token] = (score, w, t)
    return [choice[token][1:] for token in sorted(choice)]
