"""Best label path under a linear-chain CRF, in NumPy (for inference loops)."""

import numpy as np


class ViterbiDecoder:
    """Viterbi decoding with a transition matrix and optional boundary rules.

    ``trans[i, j]`` scores label ``i`` followed by label ``j``. ``starts`` /
    ``ends`` (iterables of label ids) restrict which labels may begin / end a
    sequence, e.g. to forbid an ``I-`` tag at position 0.
    """

    def __init__(self, trans, starts=None, ends=None):
        self.trans = np.asarray(trans, dtype="float64")
        if self.trans.ndim != 2 or self.trans.shape[0] != self.trans.shape[1]:
            raise ValueError(f"ViterbiDecoder: trans must be a square matrix, got shape {self.trans.shape}")
        self.num_labels = self.trans.shape[0]
        all_labels = set(range(self.num_labels))
        self.non_starts = sorted(all_labels - set(starts)) if starts is not None else []
        self.non_ends = sorted(all_labels - set(ends)) if ends is not None else []

    def decode(self, nodes):
        """Return the highest-scoring label sequence for emissions ``nodes``.

        nodes: (seq_len, num_labels) per-position label scores. The input array
        is not modified.
        """
        nodes = np.array(nodes, dtype="float64")  # copy: we mask in place
        if nodes.ndim != 2 or nodes.shape[1] != self.num_labels:
            raise ValueError(
                f"ViterbiDecoder.decode: nodes must have shape (seq_len, {self.num_labels}), "
                f"got {nodes.shape}"
            )
        if len(nodes) == 0:
            return np.zeros((0,), dtype="int64")
        nodes[0, self.non_starts] = -np.inf
        nodes[-1, self.non_ends] = -np.inf

        score = nodes[0]  # (labels,) best score of a path ending in each label
        backpointers = []
        for t in range(1, len(nodes)):
            candidates = score[:, None] + self.trans + nodes[t][None, :]  # (from, to)
            backpointers.append(candidates.argmax(axis=0))
            score = candidates.max(axis=0)

        path = [int(score.argmax())]
        for pointers in reversed(backpointers):
            path.append(int(pointers[path[-1]]))
        return np.array(path[::-1], dtype="int64")
