"""Trie-constrained decoding: outputs restricted to a given set of token sequences.

`SequenceTrie(sequences)` stores the allowed sequences as a prefix tree in flat arrays, so the two
operations `generate` needs trace inside its compiled loop on every backend:

    mask = trie.allowed(node, vocab, stop_ids)   # (B, V): tokens that continue some sequence
    node = trie.advance(node, tokens)            # (B,): the tree node after each row's token

Node 0 is the root; the last node is a "dead" sink (no children) that rows reach only by a
token the trie does not allow. A stop id is allowed exactly where a whole sequence ends; without
stop ids a row ends when it reaches a leaf.
"""

import hashlib

import numpy as np
from keras import ops

from ..numerics import NEG_INF


def _as_id_sequences(sequences, encode):
    rows = []
    for index, sequence in enumerate(sequences):
        if isinstance(sequence, str):
            if encode is None:
                raise ValueError(
                    f"allowed_sequences[{index}] is a string ({sequence!r:.30}): pass tokenizer= "
                    "so strings can be turned into token ids"
                )
            sequence = encode(sequence)
        ids = [int(i) for i in np.asarray(sequence).reshape(-1)]
        if not ids:
            raise ValueError(f"allowed_sequences[{index}] is empty: every allowed sequence needs a token")
        rows.append(ids)
    if not rows:
        raise ValueError("allowed_sequences is empty: give at least one sequence")
    return rows


def _padded(values, fill, dtype="int32"):
    size = 8
    while size < len(values):
        size *= 2
    return np.array(list(values) + [fill] * (size - len(values)), dtype=dtype)


class SequenceTrie:
    """A prefix tree of allowed token sequences, in arrays (see the module docstring)."""

    def __init__(self, sequences, encode=None, vocab_size=None):
        self.sequences = _as_id_sequences(sequences, encode)
        children, terminal = [{}], [False]
        for ids in self.sequences:
            node = 0
            for token in ids:
                if vocab_size is not None and not 0 <= token < vocab_size:
                    raise ValueError(
                        f"allowed sequence {ids} has token id {token} outside the vocabulary "
                        f"(size {vocab_size})"
                    )
                if token not in children[node]:
                    children[node][token] = len(children)
                    children.append({})
                    terminal.append(False)
                node = children[node][token]
            terminal[node] = True
        children.append({})  # the dead node
        terminal.append(False)
        self.dead = len(children) - 1
        # arrays are padded to power-of-two sizes, so similar tries share compiled shapes
        counts = _padded([len(c) for c in children], 0)
        self.child_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype("int32")
        self.child_count = counts
        self.edge_token = _padded([t for c in children for t in sorted(c)], -1)
        self.edge_child = _padded([c[t] for c in children for t in sorted(c)], self.dead)
        self.terminal = _padded(terminal, False, dtype=bool)
        self.max_children = len(_padded([0] * int(counts.max()), 0))
        self.longest = max(len(ids) for ids in self.sequences)
        digest = hashlib.sha1()
        for array in (self.child_start, self.edge_token, self.edge_child, self.terminal):
            digest.update(array.tobytes())
        self.key = digest.hexdigest()  # compiled loops are cached per trie

    def has_inner_ends(self):
        """True when some sequence is a proper prefix of another (it can only end with a stop id)."""
        return bool(np.any(self.terminal & (self.child_count > 0)))

    def _children(self, node):
        """(B, M) edge indices of each row's children and which of them exist."""
        slots = ops.arange(self.max_children, dtype="int32")[None, :]
        start = ops.take(ops.convert_to_tensor(self.child_start), node, axis=0)[:, None]
        count = ops.take(ops.convert_to_tensor(self.child_count), node, axis=0)[:, None]
        exists = slots < count
        edges = ops.minimum(start + slots, max(len(self.edge_token) - 1, 0))
        return edges, exists

    def allowed(self, node, vocab, stop_ids=()):
        """(B, V) boolean mask of the tokens each row may choose at its node."""
        batch = node.shape[0]
        edges, exists = self._children(node)
        tokens = ops.where(exists, ops.take(ops.convert_to_tensor(self.edge_token), edges, axis=0), vocab)
        rows = ops.broadcast_to(ops.arange(batch, dtype="int32")[:, None], tokens.shape)
        indices = ops.reshape(ops.stack([rows, tokens], axis=-1), (-1, 2))
        marks = ops.scatter_update(
            ops.zeros((batch, vocab + 1), dtype="int32"),
            indices,
            ops.ones((indices.shape[0],), dtype="int32"),
        )
        mask = marks[:, :vocab] > 0
        if stop_ids:
            ends = ops.take(ops.convert_to_tensor(self.terminal), node, axis=0)[:, None]
            is_stop = ops.any(ops.arange(vocab)[:, None] == ops.array(list(stop_ids))[None, :], axis=-1)
            mask = ops.logical_or(mask, ops.logical_and(ends, is_stop[None, :]))
        return mask

    def restrict(self, logits, node, stop_ids=()):
        """Logits with every token the trie forbids set to NEG_INF."""
        return ops.where(self.allowed(node, logits.shape[-1], stop_ids), logits, NEG_INF)

    def advance(self, node, tokens):
        """The child reached by each row's token (the dead node when there is none)."""
        edges, exists = self._children(node)
        edge_tokens = ops.take(ops.convert_to_tensor(self.edge_token), edges, axis=0)
        match = ops.logical_and(exists, edge_tokens == ops.cast(tokens, "int32")[:, None])
        chosen = ops.take_along_axis(edges, ops.argmax(ops.cast(match, "int32"), axis=-1)[:, None], axis=1)[
            :, 0
        ]
        child = ops.take(ops.convert_to_tensor(self.edge_child), chosen, axis=0)
        return ops.where(ops.any(match, axis=-1), child, self.dead)

    def is_leaf(self, node):
        """Rows whose node has no children (a complete sequence that nothing extends)."""
        count = ops.take(ops.convert_to_tensor(self.child_count), node, axis=0)
        return ops.logical_and(count == 0, node != self.dead)

    def match_length(self, ids):
        """Length of the allowed sequence that `ids` starts with (len(ids) when none ends in it)."""
        node = 0
        for index, token in enumerate(ids):
            edges = range(self.child_start[node], self.child_start[node] + self.child_count[node])
            node = next((int(self.edge_child[e]) for e in edges if self.edge_token[e] == token), self.dead)
            if node == self.dead or self.child_count[node] == 0:
                return index + 1
        return len(ids)

    def contains(self, ids):
        """Is this id list one of the allowed sequences? (host-side check for tests and callers)"""
        return [int(i) for i in ids] in self.sequences
